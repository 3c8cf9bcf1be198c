"""Dialogue detection and speaker attribution (analyze stage).

Input is parsed text (:class:`pipeline.models.Chapter` blocks); output is where the quoted
speech is and who says it, so later stages can give each character a voice. Everything is
rule-based, pure and fast (Pride and Prejudice or Moby-Dick take well under a second),
and built to prefer *no answer* over a wrong one: a quote read in the wrong character's
voice is worse than one read by the narrator, so :attr:`Quote.speaker` is ``None``
whenever the evidence is weak. Measured on a hand-labelled sample of real dialogue in
``tests/pipeline/data/dialogue_sample.yaml`` (see ``tests/pipeline/test_dialogue.py``).

Quotes (:func:`find_quotes`)
    Top-level spans of speech in one block, marks included: “curly”, "straight", ‘single’
    and 'single' (a single mark inside a word or after a plural, as in don't, o’clock, the
    Smiths’, is an apostrophe, not a quote), and em-dash dialogue (a block opening with
    "—" or "―"). Quotes nested inside a quote are part of it. A quote left open at the
    block end (the classic speech running on into the next paragraph) ends at the block
    end. A quoted word or title inside a sentence (scare quotes, "The Book of Life," right
    after a word) is not speech and is left out.

Names
    A *name* is a run of capitalised words that the text itself treats as a name: the word
    is capitalised in mid-sentence at least four times as often as it is written in lower
    case, follows a title (Mr., Mrs., Miss, Dr., Sir, Lady, Lord, Captain, ...), or follows
    a name word at least three times ("Jefferson Hope"). Sentence-initial common words
    ("Young Stamford") are dropped. "the" + capitalised words ("the Hatter", "the Medical
    Man") is a name too. Not speakers: places (mostly met after in/at/to/of/near..., or
    ending in Street, Park, Hall, ...), God/Heaven, days, months, festivals, nationalities,
    forms of address alone (Sir, Madam, Your Majesty).

Aliases and the canonical name
    Forms of one person are merged: a bare word joins the single full name it starts
    ("Elizabeth" -> "Elizabeth Bennet", unless a "Colonel Fitzwilliam" makes it
    ambiguous), else the single male "Mr./Dr." form it is the surname of ("Hyde" ->
    "Mr. Hyde"), else the single full name it ends ("Holmes" -> "Sherlock Holmes"), else
    "the" + it ("Hatter" -> "the Hatter"); "Mr. Hyde" joins the single full name ending in
    Hyde that was itself written with "Mr." or is a man's ("Edward Hyde"); "Sir William"
    joins "Sir William Lucas"; "Miss Eliza" joins "Eliza" when Eliza is nobody's surname;
    common nicknames join their full name when both occur (Lizzy, Eliza -> Elizabeth;
    Kitty -> Catherine). Women are not merged on the surname alone (Mrs. Bennet, Miss
    Bennet and Elizabeth Bennet stay apart). The canonical display name of a character is
    the form given in ``known`` when there is one, else the form the text uses most often
    (ties: the longer), first letter capitalised: "Elizabeth", "Mr. Darcy", "Holmes",
    "The Hatter". :data:`NARRATOR` is the first-person narrator.

Attribution, strongest evidence first
    1. A speech tag next to the quote: after it ("…,” said Mr. Bennet / said he / he said /
       Stamford remarked calmly / the Journalist was saying / I answered), before it
       ("Mrs. Bennet said only, “…”", "the Queen never left off shouting, “…”"), or ending
       the narration just before ("…, he suddenly addressed her with:"). "replied that…"
       is reported speech, not a tag.
    2. "his wife", "her husband", "her father", "her mother": "Mrs. X"/"Mr. X" for the
       man/woman last named (X the surname), else the Mr./Mrs. of the book's principal
       couple (the Mr. X and Mrs. X the narration names most, by far), else the one
       recent speaker with that title.
    3. "he"/"she": a man/woman named as a subject earlier in the paragraph's narration;
       the one the last speaker just addressed by name; in a two-person exchange, the
       speaker before last; the one man/woman of the exchange so far; else the man/woman
       most recently speaking or named as a subject in the last paragraphs, skipping the
       last speaker when this paragraph opens a new turn and anyone addressed in the
       quote itself. Not after a long stretch of narration in the same paragraph (a new
       scene: the "he" may be someone new): then ``None``. A "he continued" after a tag
       in the same paragraph is that tag's speaker. Gender comes from titles, a short
       list of first names, and the pronouns that follow a name in the narration.
    4. A named (or resolved "he"/"she"/"I") subject of the narration just before the quote
       in its paragraph ("Utterson shook his head. “No.”"), or the one subject of a
       paragraph without tags. "Elizabeth replied that it was. “…”" rules Elizabeth out.
    5. Turn-taking in a run of consecutive speech paragraphs: the person the previous
       speaker addressed by name answers; in a two-person exchange speakers alternate
       (A, B, A, B, from the known speakers, or one speaker and the one person addressed);
       with more people only a paragraph between two lines of one speaker is filled (the
       one who spoke before). A paragraph opening with narration is not a plain turn.
       Quotes of one paragraph share a speaker unless tagged otherwise; a paragraph
       continuing an unclosed quote keeps its speaker.
    "I said" / "said I" in narration gives :data:`NARRATOR` (a first-person narrator's own
    lines). "the stranger said", "they both asked", "a voice cried" give ``None`` and stop
    the turn-taking guess for that paragraph; "my companion said" gives ``None`` but may be
    filled by the turn-taking. A name merely mentioned in a quote is never a speaker.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pipeline.models import BlockKind, Chapter

NARRATOR = "Narrator"
"""Speaker of quotes tagged "I said" / "said I": a first-person narrator's own lines."""


@dataclass(frozen=True)
class Quote:
    """One quoted span of speech in a chapter.

    ``block`` indexes ``chapter.blocks``; ``start``/``end`` are character offsets into that
    block's text, marks included (``end`` exclusive). ``speaker`` is a canonical character
    name (see :class:`Character`), :data:`NARRATOR`, or ``None`` when not attributed.
    """

    block: int
    start: int
    end: int
    speaker: str | None


@dataclass(frozen=True)
class Character:
    """A speaking character of a book.

    ``name`` is the canonical display name: the form the book uses most often ("Mr. Darcy",
    "Elizabeth", "Holmes"); ``lines`` the number of quotes attributed to it; ``aliases`` the
    other forms met in the text and merged into it, most frequent first.
    """

    name: str
    lines: int
    aliases: tuple[str, ...]


# --------------------------------------------------------------------------- word lists

SPEECH_VERBS = frozenset(
    """said says say saying asked asks answered answers replied replies cried cries returned
    whispered whispers exclaimed exclaims added adds continued continues remarked remarks
    observed observes shouted shouts muttered mutters murmured murmurs called calls inquired
    enquired inquires enquires repeated repeats resumed resumes rejoined retorted protested
    interrupted explained explains began begins declared declares demanded demands urged
    pleaded sighed groaned screamed sobbed stammered suggested suggests thought responded
    snapped growled roared yelled bellowed gasped panted whimpered admitted agreed argued
    insisted warned announced confessed conceded concluded corrected echoed faltered
    grumbled hissed persisted pursued mused ventured wondered ejaculated remonstrated
    expostulated sneered laughed chuckled cautioned shrieked wailed
    moaned breathed sang chimed interposed objected assented reasoned vowed swore
    commanded ordered begged entreated implored addressed queried grunted blurted
    stuttered lisped drawled accosted saying asking answering replying crying
    whispering exclaiming adding continuing remarking observing shouting muttering
    murmuring calling inquiring enquiring repeating protesting interrupting explaining
    declaring demanding pleading sighing groaning screaming sobbing stammering
    suggesting thinking roaring yelling gasping insisting announcing""".split()
)
_VERB_ALT = "|".join(sorted(SPEECH_VERBS, key=len, reverse=True))

_TITLES = (
    "Mr. Mrs. Ms. Dr. Mme. Mlle. Miss Sir Lady Lord Madame Madam Monsieur Captain Colonel "
    "Major General Professor Inspector Sergeant Constable Lieutenant Uncle Aunt Father "
    "Brother Sister Mother Reverend King Queen Prince Princess Duke Duchess Count Countess "
    "Baron Baroness Master Mistress Judge Squire Herr Frau Signor Dame Don Señor"
)
# lower-case title word (no dot) -> the title as written in a canonical name
_TITLE_NORM = {t.lower().rstrip("."): t for t in _TITLES.split()}
_TITLE_NORM.update(
    {"doctor": "Dr.", "capt": "Captain", "col": "Colonel", "prof": "Professor"}
    | {"rev": "Reverend", "senor": "Señor"}
)
_ABBREV_TITLES = frozenset({"mr", "mrs", "ms", "dr", "mme", "mlle", "capt", "col", "prof", "rev"})
_MALE_TITLES = frozenset(
    "Mr. Dr. Sir Lord Monsieur Captain Colonel Major General Professor Inspector Sergeant "
    "Constable Lieutenant Uncle Father Brother Reverend King Prince Duke Count Baron Master "
    "Judge Squire Herr Signor Don Señor".split()
)
_FEMALE_TITLES = frozenset(
    "Mrs. Ms. Miss Lady Madame Madam Mme. Mlle. Aunt Sister Mother Queen Princess Duchess "
    "Countess Baroness Mistress Frau Dame".split()
)
_SURNAME_ONLY = frozenset({"Mr.", "Mrs.", "Miss", "Ms.", "Dr.", "the"})
# Titles used with a surname (a bare surname may stand for the one man so titled).
_SURNAME_TITLES = frozenset({"Mr.", "Dr.", "Professor", "Inspector", "Captain", "Colonel"})

_STOP = frozenset(
    """i i'm i'll i've i'd god gods heaven heavens lord christ jesus providence nature fate
    fortune death satan devil oh ah o yes no nay aye alas hush hallo hullo well why what
    sir madam ma'am miss mister monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    christmas easter michaelmas whitsuntide lent english french german italian spanish
    russian american british scotch scottish irish welsh indian christian jewish jew dutch
    european chapter volume part book letter the a an and but or if then there here this
    that these those he she it we they you his her its our their my your mine yours one
    dear good poor old young little great mr mrs dr st mme mlle ms project gutenberg
    ebook don senor señor signor monsieur madame mister majesty highness lordship
    ladyship excellency worship reverence""".split()
)
_PLACE_SUFFIX = frozenset(
    """street park road square lane hall house court place abbey castle inn hotel hospital
    bridge river hill lodge terrace gardens garden row avenue church chapel college club
    yard station bar island sea ocean mountains mountain lake town city county valley
    wood woods forest bay street's cathedral palace tower gate gates common heath
    university school""".split()
)
_PLACE_PREPS = frozenset(
    "in at into near towards toward through across within outside from to of reached left "
    "visit visiting via".split()
)
_RELATIONS = {
    "wife": ("f", "Mrs."),
    "lady": ("f", "Mrs."),
    "mother": ("f", "Mrs."),
    "mamma": ("f", "Mrs."),
    "husband": ("m", "Mr."),
    "father": ("m", "Mr."),
    "papa": ("m", "Mr."),
}
# nickname -> the formal first name it is merged into when both occur
_NICKNAMES = dict(
    pair.split(":")
    for pair in """lizzy:elizabeth lizzie:elizabeth eliza:elizabeth liz:elizabeth
    beth:elizabeth betsy:elizabeth bess:elizabeth kitty:catherine kate:catherine
    katie:catherine jack:john johnny:john bill:william will:william willy:william
    bob:robert bobby:robert dick:richard ned:edward ted:edward teddy:edward tom:thomas
    tommy:thomas harry:henry hal:henry peggy:margaret meg:margaret maggie:margaret
    polly:mary molly:mary jim:james jimmy:james jem:james charley:charles charlie:charles
    fanny:frances sally:sarah nell:ellen nelly:ellen sam:samuel sammy:samuel joe:joseph
    ben:benjamin nick:nicholas fred:frederick georgy:georgiana jenny:jane tony:anthony
    andy:andrew mike:michael dan:daniel matt:matthew pat:patrick""".split()
)
_MALE_FIRST = frozenset(
    """john william james george charles henry thomas edward robert richard joseph arthur
    francis frederick albert alfred walter david michael peter paul samuel stephen
    philip hugh jack tom harry dick bob jim ned fred sam ben joe victor ernest herbert
    sherlock mycroft gregory daniel andrew patrick anthony lewis louis ralph roger""".split()
)
_FEMALE_FIRST = frozenset(
    """elizabeth jane mary anne ann anna catherine katherine kitty lydia charlotte emma
    margaret sarah susan lucy harriet caroline georgiana maria martha alice fanny ellen
    helen eleanor elinor marianne julia louisa sophia emily jenny lizzy kate polly molly
    sally nell nelly betsy bess beth peggy meg agnes isabella clara dorothy edith grace
    rose rosa amelia frances hannah esther rachel rebecca ruth justine elinor agatha
    safie laura""".split()
)

_WORD_RE = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*(?:-[A-Za-z]+)*")
_LETTER = re.compile(r"[A-Za-z]")
_PRONOUNS = {"he": "m", "him": "m", "his": "m", "himself": "m"}
_PRONOUNS.update({"she": "f", "her": "f", "hers": "f", "herself": "f"})
_SUBJ_PRON = {"he": "m", "she": "f"}
_ELISIONS = frozenset(
    """tis twas twere twill twould em im er ere ow e cause bout round n til neath gainst
    twixt mongst scuse ud ee appen ave ad""".split()
)
_CLOSERS = "”’\"'"
_MINOR = frozenset("of the and in on at a an to for by with from".split())
_QUOTE_CHAR = re.compile(r"[“\"‘']")
_DASHES = "—―"
_SENT_END = re.compile(r"[.!?](?:['’\"”)]*)(?=\s|$)")
_NOT_VERB = frozenset(
    """to for and or nor but who whom whose which that the a an of in on at with by from as
    than into upon about after before over under through between among towards toward
    against without within while when where if so because though although until till
    since is's""".split()
)
_ACTORS = frozenset({"name", "pron", "I"})  # subjects a narration sentence can resolve
_REPORTED = frozenset("that whether if how what why nothing".split())
_TAG_FILLERS = frozenset(
    "then again also only now at last once was were had has kept still presently".split()
)
_DESC_STOP = frozenset(
    "to with in at on as and but who which that from by for of into upon after before "
    "while when then again once".split()
)


# --------------------------------------------------------------------------- quotes


def find_quotes(text: str) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of quoted speech in one block's text, in order.

    Offsets include the quote marks (``end`` exclusive). Rules: “curly” and "straight"
    double quotes; ‘curly’ and 'straight' single quotes when they open after a space or
    punctuation and close at a mark not inside a word (don't, o’clock) nor, where a later
    mark fits, after a plural (the Smiths’); quotes nested in a quote belong to it; a quote
    still open at the block end (speech continued in the next paragraph) ends at the block
    end; a block opening with "—" or "―" is em-dash dialogue (see :func:`_dash_quotes`).
    Scare quotes and titles are dropped: a quote that follows a word with no speech verb
    in the three words before it ('the word "duty"', 'its title was "The Book of Life,"'),
    or of fewer than three words with no end punctuation, followed by more of the sentence.
    """
    stripped = text.lstrip()
    if stripped[:1] in _DASHES:
        words = _WORD_RE.findall(stripped)
        if len(words) >= 2 and all(w[0].isupper() or w in _MINOR for w in words):
            return []  # "—Hawthorne’s Twice Told Tales.": a citation, not speech
        return _dash_quotes(text, len(text) - len(stripped))
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        qm = _QUOTE_CHAR.search(text, i)
        if qm is None:
            break
        i = qm.start()
        c = text[i]
        end: int | None
        if c == "“":
            j = text.find("”", i + 1)
            k = text.find("“", i + 1)
            if 0 <= k < j or (j < 0 and k >= 0):
                end = len(text[:k].rstrip())
            else:
                end = n if j < 0 else j + 1
        elif c == '"':
            j = text.find('"', i + 1)
            end = n if j < 0 else j + 1
        elif c in "‘'" and _opens_single(text, i):
            end = _close_single(text, i)
            if end is None:
                i += 1
                continue
        else:
            i += 1
            continue
        if end > i + 1:
            spans.append((i, end))
        i = max(end, i + 1)
    return [s for s in spans if not _embedded(text, s)]


def _opens_single(text: str, i: int) -> bool:
    prev = text[i - 1] if i > 0 else " "
    if not (prev.isspace() or prev in '([{—―–-"“'):
        return False
    m = _WORD_RE.match(text, i + 1)
    if m is None:
        return False
    return m.group(0).lower().replace("’", "'") not in _ELISIONS


def _close_single(text: str, i: int) -> int | None:
    mark = "’" if text[i] == "‘" else "'"
    n = len(text)
    plural: int | None = None
    j = text.find(mark, i + 1)
    while j >= 0:
        prev = text[j - 1]
        nxt = text[j + 1] if j + 1 < n else ""
        if prev.isalpha() and nxt.isalpha():
            pass  # don't, o'clock
        elif prev in ".,!?;:—–-…":
            return j + 1
        elif nxt == "" or not (nxt.isalpha() or nxt.isspace()):
            return j + 1
        elif prev in "sS" and nxt.isspace():
            if plural is None:
                plural = j + 1
        elif nxt.isspace() and not prev.isspace():
            return j + 1
        j = text.find(mark, j + 1)
    if plural is not None:
        return plural
    if not text[:i].strip():
        return n  # a single-quoted speech running on into the next paragraph
    return None


def _embedded(text: str, span: tuple[int, int]) -> bool:
    s, e = span
    before = text[:s].rstrip()
    closed = e - 1 > s and text[e - 1] in _CLOSERS
    content = text[s + 1 : e - 1 if closed else e].strip()
    ends = bool(content) and content[-1] in ".,!?;:…—-"
    if before and before[-1].isalnum():
        # right after a word: speech only after a speech verb ("he said “No.”")
        last = [w.lower() for w in _WORD_RE.findall(before[-60:])[-3:]]
        near = last[-2:] if not ends else last
        if not any(w in SPEECH_VERBS for w in near):
            return True
    if len(_WORD_RE.findall(content)) < 3 and content and not ends:
        after = text[e:].lstrip()
        if after[:1].isalpha() and after[:1].islower():
            nxt = [w.lower() for w in _WORD_RE.findall(after[:60])[:2]]
            tag = bool(nxt) and (
                nxt[0] in SPEECH_VERBS
                or (len(nxt) > 1 and nxt[0] in ("he", "she", "i") and nxt[1] in SPEECH_VERBS)
            )
            if not tag:
                return True
    return False


_DASH_NARR = re.compile(r"\s[—―]\s?(?=[a-z])")
_DASH_TAG = re.compile(
    rf"(?<=[,.!?])\s+(?=(?:(?:he|she|I|they|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\s+(?:\w+ly\s+)?"
    rf"(?:{_VERB_ALT})\b|(?:{_VERB_ALT})\s+(?:he|she|I|[A-Z])))"
)


def _dash_quotes(text: str, start: int) -> list[tuple[int, int]]:
    """Em-dash dialogue: the block is speech from its opening dash, except narration set
    off by a spaced dash before a lower-case word up to the next dash ("—No —he said—.
    Go.") or a speech tag after a comma or end mark ("—No, he said. Go away."), after
    which the speech resumes when more text follows."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    pos = start
    while pos < n:
        m = _DASH_NARR.search(text, pos + 1)
        t = _DASH_TAG.search(text, pos + 1)
        if m is None and t is None:
            spans.append((pos, len(text.rstrip())))
            break
        if m is not None and (t is None or m.start() <= t.start()):
            spans.append((pos, m.start()))
            close = -1
            for d in _DASHES:
                k = text.find(d, m.end())
                if k >= 0 and (close < 0 or k < close):
                    close = k
            if close < 0:
                break
            nxt = close + 1
        else:
            assert t is not None
            spans.append((pos, t.start()))
            e = _SENT_END.search(text, t.end())
            if e is None:
                break
            nxt = e.end()
        while nxt < n and not (text[nxt].isalnum() or text[nxt] in "¿¡“\"‘'"):
            nxt += 1
        pos = nxt
    return [(s, e) for s, e in spans if e > s and _LETTER.search(text, s, e)]


# --------------------------------------------------------------------------- names


@dataclass
class _Mention:
    start: int
    end: int
    title: str  # normalised title, "the", or ""
    words: tuple[str, ...]
    poss: bool
    initial: bool  # starts a sentence or clause (a likely subject)
    place: bool = False
    subject: bool = False  # followed by a verb-like word ("Mrs. Bennet was", not "to Lizzy")


def _is_initial(text: str, pos: int) -> bool:
    """Whether the word at ``pos`` starts a sentence (or the text, or a quote)."""
    k = pos - 1
    while k >= 0 and text[k].isspace():
        k -= 1
    if k < 0:
        return True
    c = text[k]
    if c in "“‘\"'—―(:":
        return True
    if c in ".!?":
        # "Mr. Bennet": the dot of a title abbreviation does not end a sentence
        w = _WORD_RE.findall(text[max(0, k - 6) : k])
        return not (w and w[-1].lower() in _ABBREV_TITLES)
    return False


def _strip_poss(word: str) -> tuple[str, bool]:
    if len(word) > 2 and word[-2:] in ("'s", "’s"):
        return word[:-2], True
    return word, False


_CAP_RE = re.compile(r"(?<![A-Za-z'’])[A-Z][A-Za-z]*(?:['’][A-Za-z]+)*(?:-[A-Za-z]+)*")
_LOWER_RE = re.compile(r"(?<![A-Za-z'’])[a-z]+")
_NAME_GAP = re.compile(r"\s+(?:[A-Z]\.\s+)?")


def _build_lexicon(texts: Iterable[str], known: Sequence[str]) -> set[str]:
    """Name words: capitalised in mid-sentence at least four times as often as written
    in lower case, written after a title ("Mrs. Long"), or after a name word at least
    three times ("Jefferson Hope")."""
    cap_mid: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    titled: set[str] = set()
    for text in texts:
        lower.update(_LOWER_RE.findall(text))
        prev: tuple[int, str] | None = None
        for m in _CAP_RE.finditer(text):
            w, s = m.group(0), m.start()
            base, _ = _strip_poss(w)
            if prev is not None:
                pe, pt = prev
                gap = text[pe:s]
                pw = pt.lower()
                if pw in _TITLE_NORM and (
                    gap.isspace() or (pw in _ABBREV_TITLES and gap[:1] == "." and gap[1:].isspace())
                ):
                    titled.add(base)
                if gap == " ":
                    pairs[(_strip_poss(pt)[0], base)] += 1
            prev = (m.end(), w)
            if not _is_initial(text, s):
                cap_mid[base] += 1
    names = set(titled)
    for w, c in cap_mid.items():
        if len(w) < 2 or not re.fullmatch(r"(?:Mc|Mac|O')?[A-Z][a-z]+", w):
            continue
        if lower[w.lower()] * 4 <= c:
            names.add(w)
    # a surname that is also a common word, after a name at least three times ("Jefferson
    # Hope")
    for (first, second), c in pairs.items():
        if c >= 3 and first in names and second.lower() not in _STOP:
            names.add(second)
    for name in known:
        for w in _WORD_RE.findall(name):
            if w[0].isupper() and w.lower() not in _TITLE_NORM:
                names.add(w)
    return {w for w in names if w.lower() not in _STOP}


def _mentions(text: str, lex: set[str]) -> list[_Mention]:
    """Name mentions in ``text``, left to right (see the module doc for what a name is)."""
    caps = [(m.start(), m.end(), m.group(0)) for m in _CAP_RE.finditer(text)]
    out: list[_Mention] = []
    i, n = 0, len(caps)
    while i < n:
        s, e, w = caps[i]
        low = w.lower()
        title = ""
        j = i
        if low in _TITLE_NORM and i + 1 < n:
            gap = text[e : caps[i + 1][0]]
            ok = gap.isspace() or (low in _ABBREV_TITLES and gap[:1] == "." and gap[1:].isspace())
            if ok and caps[i + 1][2].lower() not in _STOP:
                title = _TITLE_NORM[low]
                j = i + 1
        the = s >= 4 and text[s - 4 : s] in ("the ", "The ") and not text[s - 5 : s - 4].isalpha()
        words: list[str] = []
        poss = False
        last_end = -1
        k = j
        while k < n:
            ks, ke, kw = caps[k]
            tw, p = _strip_poss(kw)
            if words and not _NAME_GAP.fullmatch(text[last_end:ks]):
                break
            if len(tw) == 1 and words and text[ke : ke + 1] == ".":
                k += 1  # a middle initial: "Enoch J. Drebber"
                continue
            if tw.lower() in _STOP or (tw.lower() in _TITLE_NORM and not title and k > j):
                break
            if not title and tw not in lex:
                break
            words.append(tw)
            last_end = ke
            k += 1
            if p:
                poss = True
                break
        if the and text[s - 4] == "t" and not title:
            words = []  # "the Medical Man": every capitalised word after a mid-sentence "the"
            poss = False
            # "the Hatter", "the March Hare": "the" and capitalised words mid-sentence
            k = i
            while k < n:
                ks, ke, kw = caps[k]
                tw, p = _strip_poss(kw)
                if words and text[last_end:ks] != " ":
                    break
                if tw.lower() in _STOP and not (k + 1 < n and text[ke : caps[k + 1][0]] == " "):
                    break  # "the Monday", but "the March Hare"
                words.append(tw)
                last_end = ke
                k += 1
                if p:
                    poss = True
                    break
            if words:
                mm = _Mention(s - 4, last_end, "the", tuple(words), poss, False)
                mm.place = words[-1].lower() in _PLACE_SUFFIX
                mm.subject = _followed_by_verb(text, last_end, poss)
                out.append(mm)
                i = k
                continue
        if not words:
            i += 1
            continue
        if not title and the:
            title = "the"
            s -= 4
        m = _Mention(
            s, last_end, title, tuple(words), poss, _is_initial(text, s) or _after_conj(text, s)
        )
        nxt = _WORD_RE.match(text, last_end + 1) if text[last_end : last_end + 1] == " " else None
        m.place = words[-1].lower() in _PLACE_SUFFIX or (
            nxt is not None and nxt.group(0).lower() in _PLACE_SUFFIX
        )
        m.subject = _followed_by_verb(text, last_end, poss)
        out.append(m)
        i = k
    return out


def _followed_by_verb(text: str, end: int, poss: bool) -> bool:
    """Whether a verb-like word follows a name ("Mrs. Bennet was", not "to Lizzy to")."""
    for _ in range(3):  # skip the rest of a name the lexicon does not know ("Jefferson Hope")
        if poss or text[end : end + 1] != " ":
            return False
        nxt = _WORD_RE.match(text, end + 1)
        if nxt is None:
            return False
        word = nxt.group(0)
        if word[0].islower():
            return word not in _NOT_VERB
        poss = word.endswith(("'s", "’s"))
        end = nxt.end()
    return False


def _after_conj(text: str, pos: int) -> bool:
    prev = _WORD_RE.findall(text[max(0, pos - 12) : pos])
    return bool(prev) and prev[-1] in ("and", "but", "then", "while", "when", "till", "until")


# --------------------------------------------------------------------------- characters


@dataclass
class _Group:
    key: int
    forms: Counter[str] = field(default_factory=Counter)
    gender_votes: Counter[str] = field(default_factory=Counter)
    place_votes: int = 0
    total: int = 0
    narrated: int = 0
    surname: str | None = None
    titles: set[str] = field(default_factory=set)
    first: str | None = None
    known: str | None = None  # a form given in ``known``: the name, whatever the counts

    @property
    def name(self) -> str:
        if self.known:
            return self.known
        best = max(self.forms.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))[0]
        return best[0].upper() + best[1:]

    @property
    def gender(self) -> str | None:
        male, female = bool(self.titles & _MALE_TITLES), bool(self.titles & _FEMALE_TITLES)
        if male != female:
            return "m" if male else "f"
        m, f = self.gender_votes["m"], self.gender_votes["f"]
        if m + f < 2:
            return None
        if m > 0 and m >= 2 * f:
            return "m"
        if f > 0 and f >= 2 * m:
            return "f"
        return None

    @property
    def is_place(self) -> bool:
        return self.total > 0 and self.place_votes * 2 >= self.total


def _surface(title: str, words: tuple[str, ...]) -> str:
    return f"{title} {' '.join(words)}".strip()


class _Cast:
    """The people of a text: mention forms merged into groups (see the module doc)."""

    def __init__(self, texts: Sequence[str], known: Sequence[str]) -> None:
        self.lex = _build_lexicon(texts, known)
        form_count: Counter[tuple[str, tuple[str, ...]]] = Counter()
        self.per_text: list[list[_Mention]] = []
        self.quotes: list[list[tuple[int, int]]] = [find_quotes(t) if t else [] for t in texts]
        for text in texts:
            ms = _mentions(text, self.lex)
            self.per_text.append(ms)
            for m in ms:
                form_count[(m.title, m.words)] += 1
        known_forms: dict[tuple[str, tuple[str, ...]], str] = {}
        for name in known:  # known names exist as forms even when this text lacks them
            for m in _mentions(name, self.lex)[:1]:
                form_count.setdefault((m.title, m.words), 0)
                known_forms.setdefault((m.title, m.words), name)
        self.groups: list[_Group] = []
        self.form_group: dict[tuple[str, tuple[str, ...]], int] = {}
        self._merge(form_count)
        for form, name in known_forms.items():
            g = self.groups[self.form_group[form]]
            g.known = g.known or name
        self._votes(texts)

    # -- grouping
    def _new(self, form: tuple[str, tuple[str, ...]], count: int) -> int:
        g = _Group(len(self.groups))
        self.groups.append(g)
        self._add(g.key, form, count)
        return g.key

    def _add(self, key: int, form: tuple[str, tuple[str, ...]], count: int) -> None:
        g = self.groups[key]
        title, words = form
        g.forms[_surface(title, words)] += count
        self.form_group[form] = key
        if title and title != "the":
            g.titles.add(title)
        if len(words) >= 2 or (title in _SURNAME_TITLES | {"Mrs.", "Miss", "Ms."}):
            g.surname = g.surname or words[-1]
        if len(words) >= 2 or (not title):
            g.first = g.first or words[0]

    def _merge(self, counts: Counter[tuple[str, tuple[str, ...]]]) -> None:
        forms = sorted(counts, key=lambda f: (-len(f[1]), -counts[f], f))
        full: dict[tuple[str, ...], int] = {}
        # 1. full names ("Sherlock Holmes", "Mr. Sherlock Holmes", "the White Rabbit")
        for f in forms:
            title, words = f
            if len(words) < 2:
                continue
            k = full.get(words)
            if k is None:
                for other, ok in full.items():
                    if len(other) > len(words) and other[-len(words) :] == words and title == "the":
                        k = ok
                        break
            if k is None:
                k = self._new(f, counts[f])
                full[words] = k
            else:
                self._add(k, f, counts[f])

        by_first: dict[str, set[int]] = defaultdict(set)
        by_last: dict[str, set[int]] = defaultdict(set)
        for ws, k in full.items():
            by_last[ws[-1]].add(k)
            if self._titles_raw(k) != {"the"}:  # "the Samuel Enderby" is no Samuel
                by_first[ws[0]].add(k)

        # 2. a title with one word ("Mr. Hyde", "Sir William", "the Rabbit")
        singles: dict[tuple[str, str], int] = {}
        for f in forms:
            title, words = f
            if len(words) != 1 or not title:
                continue
            w = words[0]
            key: int | None = None
            if title == "the":
                cands = sorted({k for ws, k in full.items() if ws[-1] == w})
                cands = [c for c in cands if "the" in self._titles_raw(c)]
            elif title in _SURNAME_TITLES | {"Mrs.", "Miss", "Ms."}:
                cands = sorted(by_last[w])
                same = [c for c in cands if title in self.groups[c].titles]
                if len(same) == 1:
                    cands = same
                elif title in _MALE_TITLES:
                    cands = [c for c in cands if self._first_gender(c) == "m"]
                else:
                    cands = []
            else:
                cands = sorted(by_first[w])
                cands = [c for c in cands if title in self.groups[c].titles] or (
                    cands if len(cands) == 1 else []
                )
            if len(cands) == 1:
                key = cands[0]
            if key is None:
                key = singles.get((title, w))
            if key is None:
                key = self._new(f, counts[f])
                singles[(title, w)] = key
            else:
                self._add(key, f, counts[f])
                singles.setdefault((title, w), key)
        # 3. bare words ("Elizabeth", "Holmes", "Lizzy")
        single_titles: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for (t, sw), k in singles.items():
            single_titles[sw].append((t, k))
        for f in forms:
            title, words = f
            if len(words) != 1 or title:
                continue
            w = words[0]
            cands = sorted(by_first[w])
            titled = [k for t, k in single_titles[w] if t not in _SURNAME_ONLY]
            if titled:
                cands = []  # "Fitzwilliam": Mr. Fitzwilliam Darcy or Colonel Fitzwilliam
            if len(cands) != 1:
                cands = sorted(
                    {k for t, k in single_titles[w] if t in _SURNAME_TITLES and t in _MALE_TITLES}
                )
            if len(cands) != 1:
                cands = [c for c in sorted(by_last[w]) if self._first_gender(c) != "f"]
            if len(cands) != 1 and ("the", (w,)) in self.form_group:
                cands = [self.form_group[("the", (w,))]]  # "Hatter" -> "the Hatter"
            if len(cands) == 1:
                self._add(cands[0], f, counts[f])
            else:
                self._new(f, counts[f])
        # 3b. "Miss Eliza" -> "Eliza" when Eliza is nobody's surname
        surnames = {ws[-1] for (t, ws) in self.form_group if len(ws) > 1 or t in _SURNAME_TITLES}
        surnames |= {ws[-1] for (t, ws) in self.form_group if t == "Mrs."}
        for (title, words), k in list(self.form_group.items()):
            if title != "Miss" or len(words) != 1 or words[0] in surnames:
                continue
            bare = self.form_group.get(("", words))
            if bare is not None and bare != k:
                self._absorb(bare, k)
        # 4. nicknames ("Lizzy" -> "Elizabeth") when both are in the text
        first_names: dict[str, set[int]] = defaultdict(set)
        for (title, words), k in self.form_group.items():
            if not title or title in ("Miss",):
                first_names[words[0].lower()].add(k)
        for (title, words), k in list(self.form_group.items()):
            if title or len(words) != 1:
                continue
            formal = _NICKNAMES.get(words[0].lower())
            if formal and len(first_names.get(formal, set())) == 1:
                target = next(iter(first_names[formal]))
                if target != k:
                    self._absorb(target, k)

    def _titles_raw(self, key: int) -> set[str]:
        return {f.split(" ", 1)[0] for f in self.groups[key].forms if " " in f}

    def _first_gender(self, key: int) -> str | None:
        g = self.groups[key]
        first = (g.first or "").lower()
        if first in _MALE_FIRST or g.titles & _MALE_TITLES:
            return "m"
        if first in _FEMALE_FIRST or g.titles & _FEMALE_TITLES:
            return "f"
        return None

    def _absorb(self, target: int, victim: int) -> None:
        tg, vg = self.groups[target], self.groups[victim]
        tg.forms.update(vg.forms)
        tg.titles |= vg.titles
        tg.known = tg.known or vg.known
        vg.forms.clear()
        for f, k in self.form_group.items():
            if k == victim:
                self.form_group[f] = target

    # -- gender and places
    def _votes(self, texts: Sequence[str]) -> None:
        for g in self.groups:
            if g.titles & _MALE_TITLES:
                g.gender_votes["m"] += 5
            if g.titles & _FEMALE_TITLES:
                g.gender_votes["f"] += 5
            first = (g.first or "").lower()
            if first in _MALE_FIRST:
                g.gender_votes["m"] += 2
            elif first in _FEMALE_FIRST:
                g.gender_votes["f"] += 2
        for text, ms, qs in zip(texts, self.per_text, self.quotes):
            for m in ms:
                k = self.key(m)
                if k is None:
                    continue
                g = self.groups[k]
                g.total += 1
                if not _in_spans(m.start, qs):
                    g.narrated += 1
                prev = _WORD_RE.findall(text[max(0, m.start - 14) : m.start])
                if m.place or (prev and prev[-1].lower() in _PLACE_PREPS and not m.title):
                    g.place_votes += 1
                if m.title and m.title != "the":
                    continue
                window = text[m.end : m.end + 80]
                for pw in _WORD_RE.findall(window)[:12]:
                    gen = _PRONOUNS.get(pw.lower())
                    if gen:
                        g.gender_votes[gen] += 1
                        break

    def key(self, m: _Mention) -> int | None:
        return self.form_group.get((m.title, m.words))

    def person(self, m: _Mention) -> int | None:
        """Group key of a mention that names a person (not a place)."""
        if m.place:
            return None
        k = self.key(m)
        if k is None or self.groups[k].is_place:
            return None
        return k

    def gender(self, key: int) -> str | None:
        return self.groups[key].gender

    def name(self, key: int) -> str:
        return self.groups[key].name

    def principal(self, title: str) -> int | None:
        """``title`` ("Mr." or "Mrs.") + the surname of the book's principal couple (the
        Mr. X and Mrs. X the narration names most, if clearly so)."""
        ranked: list[tuple[int, str]] = []
        for (t, ws), k in self.form_group.items():
            if t != "Mr." or len(ws) != 1:
                continue
            wife = self.form_group.get(("Mrs.", ws))
            if wife is not None and wife != k:
                ranked.append((self.groups[k].narrated + self.groups[wife].narrated, ws[0]))
        ranked.sort()
        if not ranked or ranked[-1][0] < 3:
            return None
        if len(ranked) > 1 and ranked[-1][0] < 2 * ranked[-2][0]:
            return None
        return self.form_group.get((title, (ranked[-1][1],)))

    def find_title(self, title: str, surname: str) -> int | None:
        k = self.form_group.get((title, (surname,)))
        return k


# --------------------------------------------------------------------------- attribution


@dataclass
class _Subj:
    """Who a tag or a narration sentence names as its subject."""

    kind: str  # "name" | "pron" | "I" | "rel" | "desc" | "other"
    key: int | None = None  # group key for "name"
    gender: str | None = None  # for "pron" and "rel"
    title: str | None = None  # for "rel": "Mrs." or "Mr."
    pos: int = 0
    end: int = 0
    reported: bool = False  # a narration sentence reporting this subject's speech


_NARR = -1  # speaker key of NARRATOR


@dataclass
class _Para:
    block: int
    text: str
    quotes: list[tuple[int, int]]
    tags: list[_Subj | None]
    tag_ends: list[int]
    beats: list[_Subj]
    mentions: list[_Mention]
    vocative_at: dict[int, int]
    ends_in_speech: bool
    open_end: bool  # the last quote runs on into the next paragraph
    speakers: list[int | None] = field(default_factory=list)
    forced_none: bool = False

    @property
    def vocatives(self) -> set[int]:
        return set(self.vocative_at.values())

    @property
    def speaker(self) -> int | None:
        known = [s for s in self.speakers if s is not None]
        return known[-1] if known else None


def _in_spans(pos: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in spans)


class _Attributor:
    def __init__(
        self,
        cast: _Cast,
        mentions: dict[int, list[_Mention]],
        quotes: dict[int, list[tuple[int, int]]],
    ) -> None:
        self.cast = cast
        self.mentions = mentions
        self.quotes = quotes

    # -- subjects
    def _subject_at(self, text: str, pos: int, ms: list[_Mention]) -> _Subj | None:
        """The subject that starts exactly at ``pos`` (after spaces); its ``end`` is
        where the subject phrase ends."""
        while pos < len(text) and text[pos].isspace():
            pos += 1
        for m in ms:
            if m.start == pos and not m.poss:
                k = self.cast.person(m)
                return _Subj("name", key=k, pos=pos, end=m.end) if k is not None else None
        tm = _WORD_RE.match(text, pos)
        if tm is None:
            return None
        w = tm.group(0)
        low = w.lower()
        if low in _SUBJ_PRON:
            return _Subj("pron", gender=_SUBJ_PRON[low], pos=pos, end=tm.end())
        if low in ("they", "we", "both", "all", "everybody", "everyone", "several", "some"):
            return _Subj("other", pos=pos, end=tm.end())
        if w == "I":
            return _Subj("I", pos=pos, end=tm.end())
        if low in ("his", "her", "my", "our", "their", "your", "the", "a", "an", "this", "that"):
            limit = re.search(r"[,.;:!?“”\"‘’—–(]|$", text[tm.end() : tm.end() + 40])
            assert limit is not None
            head = None
            end = tm.end()
            for x in list(_WORD_RE.finditer(text, tm.end(), tm.end() + limit.start()))[:3]:
                xl = x.group(0).lower()
                if (
                    xl in _DESC_STOP
                    or xl in SPEECH_VERBS
                    or xl == "went"
                    or xl.endswith("ly")
                    or x.group(0)[0].isupper()
                ):
                    break
                head = xl
                end = x.end()
            if head is None:
                return None
            if low in ("his", "her") and head in _RELATIONS:
                _gen, title = _RELATIONS[head]
                gender = "m" if low == "his" else "f"
                return _Subj("rel", gender=gender, title=title, pos=pos, end=end)
            if low in ("his", "her", "my", "our", "their", "your"):
                return _Subj("desc", pos=pos, end=end)
            return _Subj("other", pos=pos, end=end)
        return None

    @staticmethod
    def _is_verb(words: list[re.Match[str]], idx: int) -> bool:
        w = words[idx].group(0)
        if not w[0].islower():
            return False
        if w in SPEECH_VERBS:
            return True
        return w == "went" and idx + 1 < len(words) and words[idx + 1].group(0) == "on"

    def _after_tag(
        self, text: str, q_end: int, limit: int, ms: list[_Mention]
    ) -> tuple[_Subj | None, int]:
        seg = text[q_end:limit]
        m = re.match(r"[\s,;—–-]*", seg)
        off = q_end + (m.end() if m else 0)
        clause_end = off
        em = re.search(r"[.!?;:“\"‘]", text[off:limit])
        clause_end = off + em.start() if em else limit
        words = list(_WORD_RE.finditer(text, off, clause_end))[:8]
        if not words:
            return None, q_end
        # inverted: [adverb] VERB SUBJ
        i = 0
        if words[0].group(0).lower().endswith("ly") or words[0].group(0).lower() in ("then", "now"):
            i = 1
        if i < len(words) and self._is_verb(words, i):
            j = i + 1
            if words[i].group(0) == "went":
                j += 1
            if (
                j < len(words)
                and words[j].group(0).endswith("ly")
                and words[j].group(0)[0].islower()
            ):
                j += 1
            if j < len(words):
                subj = self._subject_at(text, words[j].start(), ms)
                if subj is not None:
                    return subj, clause_end
        # normal: SUBJ [adverb] VERB
        subj = self._subject_at(text, words[0].start(), ms)
        if subj is not None:
            rest = list(_WORD_RE.finditer(text, subj.end, clause_end))[:5]
            for ri, r in enumerate(rest):
                lw = r.group(0).lower()
                if self._is_verb(rest, ri):
                    if ri + 1 < len(rest) and rest[ri + 1].group(0) in _REPORTED:
                        break  # "Elizabeth replied that it was": reported, not a tag
                    return subj, clause_end
                if not (lw.endswith("ly") or lw in _TAG_FILLERS):
                    break
        return None, q_end

    def _before_tag(self, text: str, start: int, q_start: int, ms: list[_Mention]) -> _Subj | None:
        seg = text[start:q_start].rstrip()
        if not seg.strip() or seg[-1] not in ",:—" and not seg[-1].isalpha():
            return None
        # the last sentence of the segment
        sent_start = start
        for em in _SENT_END.finditer(text, start, start + len(seg) - 1):
            if not _abbrev_before(text, em.start()):
                sent_start = em.end()
        words = list(_WORD_RE.finditer(text, sent_start, start + len(seg)))
        vi = None
        for idx in range(len(words) - 1, -1, -1):
            if words[idx].group(0).lower() in SPEECH_VERBS:
                vi = idx
                break
        if vi is None or len(words) - 1 - vi > 8:
            return None
        vpos = words[vi].start()
        best: _Subj | None = None
        for idx in range(vi - 1, -1, -1):
            s = self._subject_at(text, words[idx].start(), ms)
            if s is not None and s.kind in ("name", "pron", "I"):
                best = s
                break
        if best is None and vi + 1 < len(words):
            s = self._subject_at(text, words[vi + 1].start(), ms)
            if s is not None and s.kind in ("name", "pron", "I", "rel"):
                best = s
        if best is not None:
            best.pos = min(best.pos, vpos)
        return best

    def _beats(
        self,
        text: str,
        quotes: list[tuple[int, int]],
        ms: list[_Mention],
        tag_spans: list[tuple[int, int]],
    ) -> list[_Subj]:
        """Subjects of narration sentences in the paragraph (outside quotes and tags)."""
        out: list[_Subj] = []
        starts: list[int] = []
        prev_end = 0
        for s, e in [*quotes, (len(text), len(text))]:
            seg_start = prev_end
            seg = text[seg_start:s]
            if seg.strip():
                starts.append(seg_start)
                for em in _SENT_END.finditer(text, seg_start, s):
                    if not _abbrev_before(text, em.start()):
                        starts.append(em.end())
            prev_end = e
        for st in starts:
            p = st
            while p < len(text) and (text[p].isspace() or text[p] in ",;—–-"):
                p += 1
            if p >= len(text) or _in_spans(p, quotes) or _in_spans(p, tag_spans):
                continue
            subj = self._subject_at(text, p, ms)
            if subj is not None:
                # "Elizabeth replied that it was.": reported speech, a turn of its own
                nxt = list(_WORD_RE.finditer(text, subj.end, min(len(text), subj.end + 40)))[:4]
                subj.reported = any(
                    self._is_verb(nxt, j) and nxt[j + 1].group(0) in _REPORTED
                    for j in range(len(nxt) - 1)
                )
                out.append(subj)
        return out

    def _vocatives(
        self, text: str, quotes: list[tuple[int, int]], ms: list[_Mention]
    ) -> dict[int, int]:
        """People addressed by name in the quotes ("My dear Mr. Bennet," / ", Watson?"):
        mention start -> group key."""
        out: dict[int, int] = {}
        for m in ms:
            if not _in_spans(m.start, quotes):
                continue
            k = self.cast.person(m)
            if k is None:
                continue
            before = text[max(0, m.start - 14) : m.start]
            after = text[m.end : m.end + 9]
            at_start = (
                re.search(r"(?:[“\"‘']|[.!?]\s)$", before)
                and after[:1] == ","
                and not re.match(r",\s+(?:who|whom|whose|which|the|a|an|being|having)\b", after)
            )
            endearment = re.search(r"(?:[Dd]ear|[Oo]h,?|[Yy]es,|[Nn]o,)\s$", before)
            mid = (
                re.search(r"[a-z!?],\s$", before)
                and re.match(r"[,.!?;]", after)
                and not re.match(r",\s(?:and|or|nor)\b", after)
            )
            if at_start or (endearment and re.match(r"[,.!?;]", after)) or mid:
                out[m.start] = k
        return out

    # -- per paragraph facts
    def paragraph(self, idx: int, text: str) -> _Para:
        quotes = self.quotes[idx]
        ms = self.mentions[idx]
        tags: list[_Subj | None] = []
        tag_ends: list[int] = []
        tag_spans: list[tuple[int, int]] = []
        prev_end = 0
        for qi, (s, e) in enumerate(quotes):
            limit = quotes[qi + 1][0] if qi + 1 < len(quotes) else len(text)
            subj, tend = self._after_tag(text, e, limit, ms)
            if subj is None:
                subj = self._before_tag(text, prev_end, s, ms)
                tend = e
            else:
                tag_spans.append((e, tend))
            tags.append(subj)
            tag_ends.append(tend)
            prev_end = max(e, tend)
        beats = self._beats(text, quotes, ms, tag_spans)
        vocative_at = self._vocatives(text, quotes, ms)
        for m in ms:
            if (
                any(s <= m.start < e for s, e in tag_spans)
                and text[max(0, m.start - 3) : m.start] == "to "
            ):
                k = self.cast.person(m)
                if k is not None:
                    vocative_at[m.start] = k
        ends_in_speech = False
        open_end = False
        if quotes:
            last_s, last_e = quotes[-1]
            rest = text[max(last_e, tag_ends[-1]) :]
            ends_in_speech = len(_WORD_RE.findall(rest)) < 4
            open_end = (
                last_e == len(text)
                and text[last_e - 1] not in _CLOSERS
                and text.lstrip()[:1] not in _DASHES
            )
        return _Para(
            block=idx,
            text=text,
            quotes=quotes,
            tags=tags,
            tag_ends=tag_ends,
            beats=beats,
            mentions=ms,
            vocative_at=vocative_at,
            ends_in_speech=ends_in_speech,
            open_end=open_end,
        )


def _abbrev_before(text: str, dot: int) -> bool:
    w = _WORD_RE.findall(text[max(0, dot - 6) : dot])
    return bool(w) and text[dot] == "." and w[-1].lower() in _ABBREV_TITLES


class _Chapter:
    """Attribution of one chapter against a shared cast."""

    WINDOW = 8
    LONG_NARRATION = 25

    def __init__(self, cast: _Cast, chapter: Chapter, texts_offset: int) -> None:
        self.cast = cast
        self.chapter = chapter
        mentions = {i: cast.per_text[texts_offset + i] for i in range(len(chapter.blocks))}
        quotes = {i: cast.quotes[texts_offset + i] for i in range(len(chapter.blocks))}
        self.att = _Attributor(cast, mentions, quotes)
        self.paras: list[_Para | None] = []  # per block; None for headings/breaks
        for i, b in enumerate(chapter.blocks):
            if b.kind is BlockKind.PARAGRAPH and b.text:
                self.paras.append(self.att.paragraph(i, b.text))
            else:
                self.paras.append(None)
        # salience events: block -> list of (key, weight)
        self.events: list[list[tuple[int, int, int]]] = [[] for _ in self.paras]

    def gender(self, key: int | None) -> str | None:
        if key is None or key == _NARR:
            return None
        return self.cast.gender(key)

    # -- helpers
    def _prev_para(self, i: int) -> _Para | None:
        return self.paras[i - 1] if i > 0 else None

    def _turn(self, i: int, back: int) -> _Para | None:
        """The quote paragraph ``back`` steps before block ``i`` in an unbroken run."""
        j = i
        for _ in range(back):
            j -= 1
            if j < 0:
                return None
            p = self.paras[j]
            if p is None or not p.quotes:
                return None
        return self.paras[j]

    def _record(self, i: int) -> None:
        p = self.paras[i]
        if p is None:
            return
        ev = self.events[i]
        for m in p.mentions:
            k = self.cast.person(m)
            if k is None:
                continue
            if _in_spans(m.start, p.quotes):
                if m.start in p.vocative_at:
                    ev.append((k, 0, m.start))
            else:
                ev.append((k, 2 if (m.subject or m.initial) and not m.poss else 1, m.start))
        for (qs, _qe), s in zip(p.quotes, p.speakers):
            if s is not None:
                ev.append((s, 3, qs))

    def _salient(self, i: int, gender: str, exclude: set[int]) -> int | None:
        """The man/woman most recently speaking or named as a subject before block ``i``
        (a speaker before a narration subject before one addressed by name; within a
        paragraph, the later). One only addressed by name loses to anyone else spoken of
        in the window; one only named in passing ("nodded to Ferrier") is no candidate."""
        best: tuple[int, int, int, int] | None = None  # block, weight, position, key
        others: list[tuple[int, int]] = []  # key, weight
        for j in range(i - 1, max(-1, i - 1 - self.WINDOW), -1):
            if self.chapter.blocks[j].kind is BlockKind.SECTION_BREAK:
                break
            for k, w, pos in self.events[j]:
                if k in exclude or k == _NARR or self.gender(k) != gender:
                    continue
                if w != 1 and (best is None or (j == best[0] and (w, pos) > best[1:3])):
                    if best is not None:
                        others.append((best[3], best[1]))
                    best = (j, w, pos, k)
                else:
                    others.append((k, w))
        if best is None:
            return None
        winner = best[3]
        if best[1] == 0 and any(k != winner and w > 0 for k, w in others):
            return None
        return winner

    def _resolve_pron(
        self, i: int, subj: _Subj, exclude: set[int], salience: bool = True
    ) -> int | None:
        p = self.paras[i]
        assert p is not None and subj.gender is not None
        g = subj.gender
        # 1. a man/woman named earlier in this paragraph's narration
        last: int | None = None
        for m in p.mentions:
            if m.start >= subj.pos or not m.subject or _in_spans(m.start, p.quotes):
                continue
            k = self.cast.person(m)
            if k is not None and k not in exclude and self.gender(k) == g:
                last = k
        if last is not None:
            return last
        earlier = [b for b in p.beats if b.pos < subj.pos]
        if earlier and earlier[-1].kind in ("desc", "other"):
            return None  # "My companion smiled. “…,” he said": that one, unnamed
        # 2. turn-taking: the one the last speaker addressed, else (two people talking)
        # the speaker before last
        prev = self._turn(i, 1)
        if prev is not None and p.quotes and p.quotes[0][0] < subj.pos:
            addressed = {k for k in prev.vocatives - {prev.speaker} if self.gender(k) == g}
            if (
                len(addressed) == 1
                and not addressed & exclude
                and prev.ends_in_speech
                and not prev.open_end
            ):
                return addressed.pop()
            before = self._turn(i, 2)
            run = {s for j in self._run_of(i) if (q := self.paras[j]) for s in q.speakers}
            exp: int | None = None
            if before is not None and before.speaker not in (None, prev.speaker):
                exp = before.speaker
            multi = len(run - {None}) > 2
            if exp is not None and not multi and exp not in exclude and self.gender(exp) == g:
                return exp
        if not salience:
            return None
        # not after a long stretch of narration in this paragraph (a scene, where the
        # "he" may be someone new)
        narration = 0
        cut = 0
        for s, e in [*p.quotes, (len(p.text), len(p.text))]:
            if s >= subj.pos:
                narration += len(_WORD_RE.findall(p.text[cut : subj.pos]))
                break
            narration += len(_WORD_RE.findall(p.text[cut:s]))
            cut = e
        if narration > self.LONG_NARRATION:
            return None
        ex = set(exclude)
        opens = p.quotes[0][0] == len(p.text) - len(p.text.lstrip())
        if prev is not None and prev.ends_in_speech and prev.speaker is not None and opens:
            ex.add(prev.speaker)
        # 3. the one man/woman taking part in this run of speech paragraphs so far
        people: set[int] = set()
        for j in self._run_of(i):
            q = self.paras[j]
            if q is not None and j < i:
                people |= {s for s in q.speakers if s is not None} | q.vocatives
        people = {k for k in people - ex if k != _NARR and self.gender(k) == g}
        if len(people) == 1 and opens and prev is not None and prev.ends_in_speech:
            return people.pop()
        # 4. the man/woman most recently speaking or named, skipping the last speaker
        # when this paragraph opens a new turn
        return self._salient(i, g, ex)

    def _resolve_rel(self, i: int, subj: _Subj) -> int | None:
        p = self.paras[i]
        assert p is not None and subj.gender is not None and subj.title is not None
        # the possessor: named in this paragraph before the tag, else salient
        owner: int | None = None
        for m in p.mentions:
            if m.start < subj.pos:
                k = self.cast.person(m)
                if k is not None and self.gender(k) == subj.gender:
                    owner = k
        if owner is None:
            owner = self._salient(i + 1, subj.gender, set())
        if owner is not None:
            sur = self.cast.groups[owner].surname
            if sur:
                k = self.cast.find_title(subj.title, sur)
                if k is not None and k != owner:
                    return k
        # the "Mr."/"Mrs." of the book's principal couple ("her mother" in a family
        # novel), else the one recent speaker with that title
        k = self.cast.principal(subj.title)
        if k is not None:
            return k
        want = "f" if subj.title == "Mrs." else "m"
        found: set[int] = set()
        for j in range(i - 1, max(-1, i - 1 - 3 * self.WINDOW), -1):
            for k, w, _pos in self.events[j]:
                if w == 3 and k != _NARR and subj.title in self.cast.groups[k].titles:
                    if self.gender(k) == want:
                        found.add(k)
        return found.pop() if len(found) == 1 else None

    def _resolve(self, i: int, subj: _Subj, exclude: set[int], salience: bool) -> int | None:
        if subj.kind == "name":
            return subj.key
        if subj.kind == "I":
            return _NARR
        if subj.kind == "pron":
            return self._resolve_pron(i, subj, exclude, salience)
        if subj.kind == "rel":
            return self._resolve_rel(i, subj)
        return None

    # -- passes
    def run(self) -> list[Quote]:
        n = len(self.paras)
        for i in range(n):
            p = self.paras[i]
            if p is None:
                continue
            if p.quotes:
                self._first_pass(i, p)
            self._record(i)
        self._alternate(pronouns=False)
        # second chance for pronouns with the turn-taking now filled in
        for i in range(n):
            p = self.paras[i]
            if p is None or not p.quotes or all(s is not None for s in p.speakers):
                continue
            self._first_pass(i, p, again=True)
        self._alternate()
        out: list[Quote] = []
        for p in self.paras:
            if p is None:
                continue
            for (s, e), spk in zip(p.quotes, p.speakers):
                name = None
                if spk == _NARR:
                    name = NARRATOR
                elif spk is not None:
                    name = self.cast.name(spk)
                out.append(Quote(p.block, s, e, name))
        return out

    def _first_pass(self, i: int, p: _Para, again: bool = False) -> None:
        if not again:
            p.speakers = [None] * len(p.quotes)
        exclude = set(p.vocatives)
        resolved: list[int | None] = list(p.speakers)
        tagged = [False] * len(p.quotes)
        earlier: tuple[int, int | None] | None = None  # (end, speaker) of an earlier tag
        for qi, tag in enumerate(p.tags):
            if tag is None:
                continue
            tagged[qi] = True
            if tag.kind in ("desc", "other"):
                if tag.kind == "other":
                    p.forced_none = True
                earlier = (p.tag_ends[qi], None)
                continue
            if tag.kind == "pron" and earlier is not None:
                # "…,” remarked my friend. “…,” he continued: the same person, unless
                # someone else is named in between
                named = any(
                    earlier[0] <= m.start < tag.pos
                    and not m.poss
                    and not _in_spans(m.start, p.quotes)
                    and self.cast.person(m) is not None
                    for m in p.mentions
                )
                ek = earlier[1]
                if not named and (ek is None or self.gender(ek) in (None, tag.gender)):
                    resolved[qi] = ek
                    continue
            if resolved[qi] is None:
                k = self._resolve(i, tag, exclude, again)
                if k is not None and k in exclude and tag.kind != "name":
                    k = None
                resolved[qi] = k
            earlier = (p.tag_ends[qi], resolved[qi])
        # a tag from the previous narration paragraph ("he addressed her with:")
        prev = self._prev_para(i)
        if not tagged[0] and prev is not None and prev.text.rstrip().endswith(":"):
            start = max(prev.quotes[-1][1], prev.tag_ends[-1]) if prev.quotes else 0
            st = self.att._before_tag(prev.text, start, len(prev.text.rstrip()) + 1, prev.mentions)
            if st is not None and resolved[0] is None:
                sub = _Subj(st.kind, st.key, st.gender, st.title, pos=len(prev.text))
                tagged[0] = True
                if st.kind == "pron":
                    # resolve inside the previous paragraph
                    resolved[0] = self._resolve_in(i - 1, sub)
                else:
                    resolved[0] = self._resolve(i, sub, exclude, again)
        # continuation of an unclosed quote from the previous paragraph
        if (
            not tagged[0]
            and prev is not None
            and prev.open_end
            and prev.speaker is not None
            and p.quotes[0][0] == len(p.text) - len(p.text.lstrip())
        ):
            resolved[0] = prev.speaker
            tagged[0] = True
        # a narration subject just before an untagged quote ("The Editor raised
        # objections. “…”"), else one subject for the whole paragraph
        if not p.forced_none:
            lo = 0
            for qi, (qs, qe) in enumerate(p.quotes):
                local = [b for b in p.beats if lo <= b.pos < qs and b.kind in _ACTORS]
                lo = max(qe, p.tag_ends[qi])
                if tagged[qi] or not local:
                    continue
                if local[-1].reported:
                    # "Elizabeth replied that it was. “Very well…”": someone else
                    k = self._resolve(i, local[-1], exclude, again)
                    if k is not None and resolved[qi] == k:
                        resolved[qi] = None
                    if k is not None:
                        exclude = exclude | {k}
                    tagged[qi] = resolved[qi] is not None
                    continue
                k = self._resolve(i, local[-1], exclude, again)
                if k is not None and k not in exclude:
                    resolved[qi] = k
                    tagged[qi] = True
        if not any(tagged) and not p.forced_none:
            subjects: set[int] = set()
            for b in p.beats:
                if b.kind not in _ACTORS:
                    continue
                if b.reported:
                    subjects = set()
                    break
                k = self._resolve(i, b, exclude, again)
                if k is None:
                    subjects = set()
                    break
                subjects.add(k)
            if len(subjects) == 1:
                k = next(iter(subjects))
                if k not in exclude:
                    resolved = [k] * len(p.quotes)
        # untagged quotes of a paragraph share its tagged speaker
        last: int | None = None
        for qi in range(len(resolved)):
            if resolved[qi] is not None:
                last = resolved[qi]
            elif not tagged[qi] and last is not None:
                resolved[qi] = last
        nxt: int | None = None
        for qi in range(len(resolved) - 1, -1, -1):
            if resolved[qi] is not None:
                nxt = resolved[qi]
            elif not tagged[qi] and nxt is not None:
                resolved[qi] = nxt
        p.speakers = resolved
        if again:
            self.events[i] = []
            self._record(i)

    def _resolve_in(self, i: int, subj: _Subj) -> int | None:
        """Resolve a pronoun subject of narration paragraph ``i`` (named there first)."""
        p = self.paras[i]
        assert p is not None and subj.gender is not None
        best: int | None = None
        for m in p.mentions:
            k = self.cast.person(m)
            if k is not None and self.gender(k) == subj.gender and m.subject:
                best = k
        if best is not None:
            return best
        return self._salient(i + 1, subj.gender, set())

    def _run_of(self, i: int) -> list[int]:
        """Blocks of the unbroken run of speech paragraphs that holds block ``i``."""
        lo = hi = i
        while lo > 0 and (q := self.paras[lo - 1]) is not None and q.quotes:
            lo -= 1
        while hi + 1 < len(self.paras) and (q := self.paras[hi + 1]) is not None and q.quotes:
            hi += 1
        return list(range(lo, hi + 1))

    def _runs(self) -> list[list[int]]:
        runs: list[list[int]] = []
        cur: list[int] = []
        for i, p in enumerate(self.paras):
            if p is not None and p.quotes:
                cur.append(i)
            else:
                if cur:
                    runs.append(cur)
                cur = []
        if cur:
            runs.append(cur)
        return runs

    def _alternate(self, pronouns: bool = True) -> None:
        for run in self._runs():
            self._alternate_run(run, pronouns)

    def _alternate_run(self, run: list[int], pronouns: bool) -> None:
        paras = [self.paras[i] for i in run]
        ps = [p for p in paras if p is not None]
        # the two people of a two-party exchange: every tagged paragraph of the run is
        # resolved, to one of them
        known = {s for p in ps for s in p.speakers if s is not None}
        for p in ps:  # people whose speech the narration reports take part too
            for b in p.beats:
                if b.reported and b.kind == "name" and b.key is not None:
                    known.add(b.key)
        unresolved = any(
            p.speaker is None and any(t is not None and t.kind != "desc" for t in p.tags)
            for p in ps
        )
        pair: set[int] | None = None
        if unresolved:
            pass
        elif len(known) == 2:
            pair = known
        elif len(known) == 1:
            a = next(iter(known))
            addressed = {v for p in ps if p.speaker == a for v in p.vocatives} - {a}
            if len(addressed) == 1 and len({v for p in ps for v in p.vocatives} - {a}) == 1:
                pair = {a, next(iter(addressed))}
            else:
                first = run[0] - 1
                before = self.paras[first] if first >= 0 else None
                if before is not None and not before.quotes:
                    subs = {
                        self.cast.person(m) for m in before.mentions if m.initial and not m.poss
                    } - {None, a}
                    if len(subs) == 1:
                        other = subs.pop()
                        assert other is not None
                        pair = {a, other}
        multi = len(known) > 2
        changed = True
        while changed:
            changed = False
            for idx, p in enumerate(ps):
                if p.speaker is not None or p.forced_none:
                    continue
                if any(t is not None and t.kind in ("name", "I") for t in p.tags):
                    continue  # a named tag that did not resolve: leave it
                if p.quotes[0][0] > len(p.text) - len(p.text.lstrip()) and not any(p.tags):
                    continue  # opens with narration: not a plain turn of the exchange
                if not pronouns and any(t is not None and t.kind == "pron" for t in p.tags):
                    continue  # resolve the pronoun first
                guesses: set[int] = set()
                prev1 = ps[idx - 1].speaker if idx >= 1 else None
                prev2 = ps[idx - 2].speaker if idx >= 2 else None
                next1 = ps[idx + 1].speaker if idx + 1 < len(ps) else None
                next2 = ps[idx + 2].speaker if idx + 2 < len(ps) else None
                # one speech running over several paragraphs is one turn
                cont_prev = idx >= 1 and ps[idx - 1].open_end
                cont_next = p.open_end and idx + 1 < len(ps) and _opens_with_quote(ps[idx + 1])
                if cont_prev or cont_next:
                    same = {
                        x
                        for x, c in ((prev1, cont_prev), (next1, cont_next))
                        if c and x is not None
                    }
                    if len(same) == 1:
                        self._fill(p, same.pop())
                        changed = True
                    continue
                if idx >= 1:
                    addressed = ps[idx - 1].vocatives - {prev1}
                    if (
                        len(addressed) == 1
                        and ps[idx - 1].ends_in_speech
                        and not ps[idx - 1].open_end
                    ):
                        guesses |= addressed  # the one just spoken to answers
                if not guesses and not multi:
                    if prev1 is not None and prev2 is not None and prev1 != prev2:
                        guesses.add(prev2)
                    if next1 is not None and next2 is not None and next1 != next2:
                        guesses.add(next2)
                    if pair is not None:
                        if prev1 in pair:
                            guesses |= pair - {prev1}
                        if next1 in pair:
                            guesses |= pair - {next1}
                elif not guesses and prev1 is not None and prev1 == next1:
                    # several people: only a turn between two lines of one speaker
                    guesses = {x for x in (prev2, next2) if x is not None and x != prev1}
                if len(guesses) != 1:
                    continue
                g = next(iter(guesses))
                if g in p.vocatives or g == prev1 or g == next1:
                    continue
                if self._fill(p, g):
                    changed = True

    def _fill(self, p: _Para, g: int) -> bool:
        """Give paragraph ``p``'s unattributed quotes to ``g`` unless its "he"/"she" tags
        say otherwise; whether it did."""
        want = {t.gender for t in p.tags if t is not None and t.kind == "pron"}
        if want and (len(want) > 1 or self.gender(g) not in want):
            return False
        p.speakers = [g if s is None else s for s in p.speakers]
        self.events[p.block].append((g, 3, p.quotes[0][0]))
        return True


def _opens_with_quote(p: _Para) -> bool:
    return bool(p.quotes) and p.quotes[0][0] == len(p.text) - len(p.text.lstrip())


def _chapter_texts(chapter: Chapter) -> list[str]:
    return [b.text if b.kind is BlockKind.PARAGRAPH else "" for b in chapter.blocks]


def attribute_chapter(chapter: Chapter, known: Sequence[str] = ()) -> list[Quote]:
    """Quotes of ``chapter`` in reading order, each with its speaker or ``None``.

    ``known`` adds character names found elsewhere (e.g. the rest of the book) to the
    names this chapter's own text yields. The rules are in the module docstring.
    """
    cast = _Cast(_chapter_texts(chapter), known)
    return _Chapter(cast, chapter, 0).run()


def attribute_book(chapters: Sequence[Chapter]) -> tuple[dict[int, list[Quote]], list[Character]]:
    """Attribute every chapter against one cast built from the whole book.

    Returns the quotes keyed by ``chapter.index`` and the speaking characters (those with
    at least one attributed quote, :data:`NARRATOR` included), most lines first, then
    by name.
    """
    texts: list[str] = []
    offsets: list[int] = []
    for ch in chapters:
        offsets.append(len(texts))
        texts.extend(_chapter_texts(ch))
    cast = _Cast(texts, ())
    result: dict[int, list[Quote]] = {}
    lines: Counter[str] = Counter()
    for ch, off in zip(chapters, offsets):
        quotes = _Chapter(cast, ch, off).run()
        result[ch.index] = quotes
        lines.update(q.speaker for q in quotes if q.speaker is not None)
    by_name = {cast.name(g.key): g for g in cast.groups if g.forms}
    characters: list[Character] = []
    for name, count in lines.items():
        g = by_name.get(name)
        aliases: tuple[str, ...] = ()
        if g is not None:
            ranked = sorted(g.forms.items(), key=lambda kv: (-kv[1], kv[0]))
            aliases = tuple(f for f, c in ranked if f.lower() != name.lower() and c > 0)
        characters.append(Character(name, count, aliases))
    characters.sort(key=lambda c: (-c.lines, c.name))
    return result, characters
