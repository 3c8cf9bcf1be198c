"""The admin's usage page (``/admin/usage``): per UTC day over the last 7, 30 or 90
days, minutes of audio generated, credits charged and sold, and revenue, as charts
(rx.recharts) with the totals and a table of the same numbers."""

from __future__ import annotations

from dataclasses import asdict

import reflex as rx

from audiobook_app import PRODUCT_NAME
from audiobook_app.admin import usage
from audiobook_app.admin.views import DayView, day_view
from audiobook_app.pages.admin.common import AdminState, admin_page, call
from audiobook_app.state.clients import settings

PERIODS = ["7", "30", "90"]  # days the period picker offers
CHART_HEIGHT_PX = 240


class AdminUsageState(AdminState):
    """The period, its days (table and chart data) and totals."""

    days: str = "30"
    rows: list[DayView] = []
    chart: list[dict] = []  # the same rows as plain dicts, for recharts
    totals: str = ""

    async def _refresh(self) -> None:
        found = await call(usage.usage_per_day, int(self.days))
        self.rows = [day_view(d) for d in found]
        self.chart = [asdict(r) for r in self.rows]
        total = usage.totals(found)
        self.totals = (
            f"{total.minutes_generated:.1f} minutes generated · {total.credits_charged} credits "
            f"charged · {total.credits_sold} credits sold in {total.purchases} purchase(s) for "
            f"{total.revenue_cents / 100:.2f} {settings().currency.upper()}"
            f" · {total.credits_refunded} credits refunded"
        )

    @rx.event
    async def load(self):
        """on_load: the last 30 days (admins only)."""
        if await self._admin_id() is None:
            self.rows, self.chart, self.totals = [], [], ""
            return
        await self._refresh()

    @rx.event
    async def set_days(self, days: str):
        """The period picker."""
        if await self._admin_id() is None:
            return
        self.days = days if days in PERIODS else "30"
        await self._refresh()


def _chart(title: str, ident: str, *series: tuple[str, str, str]) -> rx.Component:
    """A bar chart of ``series`` ((data key, label, colour), ...) per day."""
    return rx.vstack(
        rx.heading(title, size="3"),
        rx.recharts.bar_chart(
            *[
                rx.recharts.bar(data_key=key, name=label, fill=colour)
                for key, label, colour in series
            ],
            rx.recharts.x_axis(data_key="day"),
            rx.recharts.y_axis(),
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            data=AdminUsageState.chart,
            width="100%",
            height=CHART_HEIGHT_PX,
        ),
        width="100%",
        id=ident,
    )


def _row(day: DayView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(day.day),
        rx.table.cell(day.minutes),
        rx.table.cell(day.charged),
        rx.table.cell(day.sold),
        rx.table.cell(day.revenue),
        rx.table.cell(day.purchases),
        rx.table.cell(day.refunded),
        class_name="admin-usage-row",
    )


@rx.page(
    route="/admin/usage",
    title=f"Usage · Admin · {PRODUCT_NAME}",
    on_load=[AdminState.require_admin, AdminUsageState.load],
)
def usage_page() -> rx.Component:
    """Period picker, totals, charts, table."""
    headers = ("Day", "Minutes", "Charged", "Sold", "Revenue", "Purchases", "Refunded")
    return admin_page(
        "Usage and revenue",
        rx.hstack(
            rx.text("Last", size="2"),
            rx.select(
                PERIODS, value=AdminUsageState.days, on_change=AdminUsageState.set_days, id="days"
            ),
            rx.text("days (UTC)", size="2"),
            align="center",
        ),
        rx.text(AdminUsageState.totals, id="usage-totals", size="2"),
        _chart("Minutes generated", "chart-minutes", ("minutes", "minutes", "#3e63dd")),
        _chart(
            "Credits",
            "chart-credits",
            ("sold", "sold", "#30a46c"),
            ("charged", "charged", "#f76b15"),
        ),
        _chart("Revenue", "chart-revenue", ("revenue", "revenue", "#8e4ec6")),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(AdminUsageState.rows, _row)),
            width="100%",
            id="admin-usage",
        ),
    )
