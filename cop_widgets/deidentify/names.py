"""Names of people: capitalised words that are not allowed ones, and the names an app was told
were mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from cop_widgets.deidentify.candidates import (
    P_LISTED,
    P_NAME,
    REASONS,
    Candidate,
    allowed,
    base,
    word_set,
)

# A capitalised word in the middle of a sentence is treated as a name unless it is allowed
# (candidates.allowed): roles, kin words, services, programs, days, months, languages,
# peoples, states and the like, which de-identified writing uses all the time. At the start
# of a sentence every word is capitalised, so there a word counts as a name only with more
# signals.

# Honorifics: the next capitalised word (or a single initial, "Ms K") is a name.
_HONORIFICS = word_set("mr mrs ms miss mx dr prof professor sr")
# Kin and role words used as titles ("Aunty Maree", "Grandma Rose"): part of the name span.
_TITLES = _HONORIFICS | word_set(
    """aunty auntie aunt uncle nan nana nanna grandma grandpa grandad granddad pop poppy
    sister brother father mother cousin sergeant constable detective officer judge
    magistrate coach pastor imam reverend rev"""
)
# Common words that start sentences ("Everyone said …", "Today's visit …"): never names.
_COMMON_STARTERS = word_set(
    """a about above across after afterwards again against all almost also although always
    am among an and another any anybody anyone anything anyway apparently are around as at
    back because before being below besides between both but by can certainly clearly could
    currently did do does doing during each earlier either else even eventually ever every
    everybody everyone everything finally first following for from further generally given
    had has have having he her here hers herself him himself his hopefully how however i if
    in initially instead is it its itself just last later least less like luckily many maybe
    me meanwhile might more moreover most mostly much must my myself neither never
    nevertheless next no nobody none noone nor not nothing now obviously of often on once one
    only or other others otherwise our ours ourselves out over overall perhaps possibly
    previously probably quite rather really recently reportedly same second secondly several
    she should since so some somebody someone something sometimes soon still such than that
    the their theirs them themselves then there therefore these they this those though three
    through thus to today together tomorrow tonight too two under unfortunately unless until
    up upon us usually very was we were what whatever when whenever where whereas wherever
    whether which while who whoever whom whose why will with within without would yes yet
    yesterday you your yours yourself everyone's someone's nobody's today's yesterday's
    tomorrow's each other's anyone's
    staff teachers carers parents police neighbours neighbors workers caseworkers kids
    children siblings grandparents doctors nurses officers people services agencies families
    relatives friends visitors both members managers leaders supervisors practitioners
    colleagues student students everybody's
    honestly personally thankfully sadly surprisingly interestingly importantly ideally
    admittedly notably unsurprisingly naturally fortunately frankly looking thinking feeling
    reflecting working talking speaking writing reading listening seeing using having being
    going getting making taking asking following despite regarding considering
    names name"""
)
# Verbs that follow a person at the start of a sentence ("Jayden told me …").
_PERSON_VERBS = word_set(
    """said says told tells asked asks explained explains disclosed discloses reported reports
    stated states shared shares admitted admits denied denies refused refuses agreed agrees
    cried cries yelled yells screamed screams shouted shouts laughed laughs smiled smiles
    whispered whispers insisted insists wants wanted loves loved hates hated likes liked
    lives lived attends attended drew draws rang rings called calls phoned phones texted texts
    emailed emails messaged messages arrived arrives ran runs hit hits punched kicked slapped
    flinched flinches hugged hugs sobbed sobs giggled mentioned mentions replied replies
    answered answers wrote writes tried tries turned turns became becomes"""
)
# Common Australian first names, one signal among several for a capitalised word at the start
# of a sentence. Names that are also everyday words (Will, May, Grace, Hope, Mark…) are left out.
_FIRST_NAMES = word_set(
    """aaliyah aaron abby abigail adam addison aidan aiden alana alannah alex alexander alexis
    ali alice alicia alyssa amanda amber amelia amy andrew angela angus anna annabelle anthony
    archer archie aria ariana arlo ashley ashton aubrey audrey ava bailey beau bella ben
    benjamin bethany billie blake bodhi bonnie braden brayden brendan brian brianna bridget
    brittany brodie brooke brooklyn bryce caitlin caleb callum cameron carla carly caroline
    casey cassandra charli charlie charlotte chelsea chloe chris christopher claire cody
    connor cooper corey courtney craig daniel danielle darcy darren david declan denise dylan
    eddie edward eleanor elijah eliza elizabeth ella ellie emily emma ethan evelyn evie ezra
    fatima finn freya gabriel gemma georgia george gina hamish hannah harper harrison harvey
    hayden heidi henry hudson hugo imogen indi isaac isabella isabelle isla jacinta jackson
    jacob jai jake james jamie jared jarrah jasmine jason jaxon jayden jaylen jemima jenna
    jennifer jeremy jesse jessica jett jordan joseph josh joshua jye kai kaitlyn karen kate
    katie kayla kaylee keira kevin kiara kirra kristy kyle kylie lachlan lara layla leah lenny
    leo levi liam lily lincoln logan lola lucas lucy luka luke lachie madison maddison maddie
    madeleine mackenzie maria mason matilda matthew maya megan melissa mia michael michelle
    milla mitchell mohammed muhammad molly nathan nate nicholas nicole noah olivia oliver
    oscar paige patrick peter phoebe piper priya rachel rebecca reuben riley ruby ryan
    samantha samuel sarah scarlett sebastian shane sharon shannon sienna skye sophia sophie
    stella steve steven tahlia tamara tanya tayla taylor thomas tiana tom tommy tristan troy
    tyler tyson violet william willow xavier zac zach zachary zali zara zoe zoë"""
)
_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")
# Theorists and model authors: "Kolb's learning cycle" names a model, not a person involved.
_MODEL_WORDS = word_set(
    """model models cycle cycles theory framework approach hierarchy stages triangle wheel
    loop method methods tool matrix scale"""
)
# Models named after two authors: "Hatton and Smith level 3" names a model, not two people.
_MODEL_NAMES = re.compile(r"\bHatton\s+(?:and|&)\s+Smith\b")
# Characters skipped when looking back for the start of a sentence: quotes, brackets, bullets.
_OPENERS = "\"'“‘([{*•·–—-> \t"


def _at_sentence_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in ".!?:\n\r…"


def _is_possessive(word: str) -> bool:
    return word.lower().endswith(("'s", "’s"))


@dataclass
class _Token:
    start: int
    end: int
    word: str
    sentence_start: bool
    flagged: bool = False
    unknown: bool = False  # at a sentence start, neither a known word nor (yet) a name


def _followed_by_model_word(tokens: list[re.Match], i: int) -> bool:
    return any(t.group().lower() in _MODEL_WORDS for t in tokens[i + 1 : i + 4])


# "Circle of Security", "Tuning in to Kids": an unknown capitalised word joined by "of" or
# "in to" to a known one is part of a program or service title. ("and", "to", "with" are left
# out on purpose: "Mum and Kayla", "took Kayla to Centrelink".)
_TITLE_LINK = re.compile(r"\s+(?:of|of the|in to|into)\s+([^\W\d_][^\s,.;:!?]*)")
_SURNAME_SHAPE = re.compile(r"(?:Mc|Mac|O['’]|D['’])[A-Z]")
# "Skylah, who is 6, …", "Khalid, aged 9, …": a relative clause or an age after a capitalised
# sentence opener is a strong sign that the opener is a person.
_PERSON_APPOSITION = re.compile(r",\s+(?:who|whose|aged?\s+\d|\d{1,2}\b)")

# Weaker signs that a sentence opener is a person, trusted only when the word does not look
# like an ordinary noun or adverb (below): "Ayesha is worried", "Kobi won't eat", "Jaxxon and
# his brother", "Indiana, the middle child, …".
_SUBJECT_AUXILIARIES = word_set(
    """is was has had did does didn't doesn't won't wouldn't can't couldn't isn't wasn't
    hasn't hadn't will would could can should keeps kept seems seemed looks looked hid hides
    threw throws sat sits slept sleeps ate eats walked walks grabbed pushed bit bites swore
    stole lied wet hugs cuddled smashed broke"""
)
_KIN_WORD = (
    r"(?:eldest|youngest|oldest|middle|child|son|daughter|baby|partner|boyfriend|girlfriend"
    r"|husband|wife|ex|brother|sister|mother|father|mum|dad|mom|nan|nana|grandmother|grandma"
    r"|grandfather|grandad|grandpa|aunt|aunty|auntie|uncle|cousin|carer|stepfather|stepmother"
    r"|stepdad|stepmum|twin|sibling|siblings|friend|mate|neighbour|neighbor|kids|children)"
)
_KIN_APPOSITION = re.compile(
    rf",\s+(?:the|her|his|their|my|our|mum's|dad's)\s+(?:[a-z-]+\s+){{0,2}}?{_KIN_WORD}\b"
)
_AND_KIN = re.compile(
    rf"\s+(?:and|&)\s+(?:(?:his|her|their)\s+(?:[a-z-]+\s+)?{_KIN_WORD}\b|{_KIN_WORD}\b)",
    re.IGNORECASE,
)
_DOUBLE_BARRELLED = re.compile(r"[A-Z][a-z]+-[A-Z][a-z]+")  # "Marlee-Rose", "Ruby-Mae"
# Endings of ordinary nouns and adverbs that open sentences ("Attendance is …", "Progress has …",
# "Regrettably, the father …"), and everyday nouns used without an article.
_ORDINARY_ENDINGS = (
    "tion sion ment ness ity ety rty acy ncy ance ence ing ship ism ogy ics ery ory dom hood"
    " ful ure age ss ly ist ise ize"
).split()
_ORDINARY_NOUNS = word_set(
    """money food sleep work contact progress housing alcohol rent debt help time life weather
    transport homework bedtime dinner breakfast lunch tea supervision behaviour behavior anger
    fear trust love change respect play art music sport sports school water mould speech
    cannabis meth grief loss shame guilt conflict feedback paperwork technology therapy
    custody funding access stuff everything nothing something anything attendance routine
    routines structure toileting drinking smoking gambling medication culture identity
    visitation contact childcare daycare kinder hygiene nutrition weight height growth
    bullying screen screens gaming phone wifi internet distance travel stability safety
    lockdown covid isolation unemployment poverty homelessness overcrowding noise mess rapport
    rego respite rain heat traffic"""
)
# Given names with those endings, spelt out so the rule above does not hide them.
_NAMES_WITH_ORDINARY_ENDINGS = word_set(
    """jess ross tess bess rory avery gregory tory florence lawrence laurence terrence
    clarence constance holly kelly ally shelly kimberly beverley beverly emily lily molly
    sally polly dolly wesley bradley stanley ashley hayley kayley riley kylie ridley paige
    sage page jessica ming sterling"""
)


def _ordinary_word(word: str) -> bool:
    low = base(word)
    if low in _NAMES_WITH_ORDINARY_ENDINGS or low in _FIRST_NAMES:
        return False
    return low in _ORDINARY_NOUNS or any(
        low.endswith(end) and len(low) > len(end) + 1 for end in _ORDINARY_ENDINGS
    )


# Verbs that agree with one person only ("Ayesha is"): after the others ("will", "kept") a
# plural-looking word is more likely a noun ("Visits will resume").
_SINGULAR_AUXILIARIES = word_set(
    """is was has does doesn't isn't wasn't hasn't keeps seems looks hides throws sits sleeps
    eats walks bites hugs"""
)


def _person_cue_after(text: str, end: int, following: str, joined_by_space: bool) -> bool:
    word = text[:end].rsplit(None, 1)[-1].lower()
    plural_looking = word.endswith("s") and not word.endswith(("ss", "us", "is", "as", "'s", "’s"))
    return (
        (
            joined_by_space
            and following in _SUBJECT_AUXILIARIES
            and (following in _SINGULAR_AUXILIARIES or not plural_looking)
        )
        or _KIN_APPOSITION.match(text, end) is not None
        or _AND_KIN.match(text, end) is not None
    )


def _in_title_phrase(text: str, end: int) -> bool:
    link = _TITLE_LINK.match(text, end)
    return bool(link and link.group(1)[0].isupper() and allowed(link.group(1)))


def find_names(text: str) -> Iterable[Candidate]:
    """Capitalised words that look like a person's name."""
    matches = list(_NAME_TOKEN.finditer(text))
    model_spans = [(mm.start(), mm.end()) for mm in _MODEL_NAMES.finditer(text)]
    tokens: list[_Token | None] = []
    for i, m in enumerate(matches):
        word = m.group()
        if not word[0].isupper() or (
            model_spans and any(a <= m.start() < b for a, b in model_spans)
        ):
            tokens.append(None)
            continue
        tok = _Token(m.start(), m.end(), word, _at_sentence_start(text, m.start()))
        tokens.append(tok)
        prev = tokens[i - 1] if i > 0 else None
        after_honorific = (
            prev is not None
            and base(prev.word) in _HONORIFICS
            and re.fullmatch(r"\.?\s+", text[prev.end : tok.start]) is not None
        )
        stem = word[:-2] if _is_possessive(word) else word
        letters = stem.replace("'", "").replace("’", "").replace("-", "")
        if after_honorific:
            tok.flagged = True  # "Mr Nguyen", "Ms K"
        elif len(letters) == 1 or (len(letters) > 1 and letters.isupper()):
            continue  # "I", "Child A", acronyms such as DCJ or NDIS
        elif allowed(word):
            continue
        elif _is_possessive(word) and _followed_by_model_word(matches, i):
            continue  # "Kolb's learning cycle"
        elif _in_title_phrase(text, m.end()):
            continue
        elif not tok.sentence_start:
            tok.flagged = True
        elif base(word) not in _COMMON_STARTERS:
            following = matches[i + 1].group().lower() if i + 1 < len(matches) else ""
            joined_by_space = i + 1 < len(matches) and text[m.end() : matches[i + 1].start()] == " "
            tok.flagged = (
                base(word) in _FIRST_NAMES
                or (joined_by_space and following in _PERSON_VERBS)
                or _is_possessive(word)
                or _SURNAME_SHAPE.match(word) is not None
                or _PERSON_APPOSITION.match(text, m.end()) is not None
                or (
                    not _ordinary_word(word)
                    and (
                        _DOUBLE_BARRELLED.fullmatch(word) is not None
                        or _person_cue_after(text, m.end(), following, joined_by_space)
                    )
                )
            )
            tok.unknown = not tok.flagged
    # "Khalid and Amira have …": an unknown opener joined by "and" to a name is a name too.
    for i, opener in enumerate(tokens):
        if opener is None or not opener.unknown:
            continue
        for nxt in tokens[i + 1 : i + 3]:
            if (
                nxt
                and nxt.flagged
                and re.fullmatch(r"\s+(?:and|&)\s+", text[opener.end : nxt.start])
            ):
                opener.flagged = True
    yield from _merge_name_runs(text, tokens)


def _merge_name_runs(text: str, tokens: list[_Token | None]) -> Iterable[Candidate]:
    """One finding per run of capitalised words holding a name ("Tayla Morgan", "Mr Nguyen")."""
    reason = REASONS["name"]
    run: list[_Token] = []

    def close() -> Iterable[Candidate]:
        flagged = [k for k, t in enumerate(run) if t.flagged]
        if flagged:
            first, last = flagged[0], flagged[-1]
            # Extend left over titles and over unknown capitalised words ("Tayla Morgan").
            while first > 0 and (
                base(run[first - 1].word) in _TITLES
                or not (
                    allowed(run[first - 1].word) or base(run[first - 1].word) in _COMMON_STARTERS
                )
            ):
                first -= 1
            yield Candidate(run[first].start, run[last].end, "name", P_NAME, reason)

    for tok in tokens:
        if tok is None:
            yield from close()
            run = []
            continue
        if run and not re.fullmatch(r"\.? ", text[run[-1].end : tok.start]):
            yield from close()
            run = []
        run.append(tok)
    yield from close()


# Names the app was told were mentioned (typed into a "names mentioned" box).


def split_names(names_mentioned: Iterable[str] | str) -> list[str]:
    """Distinct names of two characters or more, longest first (so a full name wins)."""
    # A single string is read as a list typed into one box ("Kirra, Jayden"), not as letters.
    if isinstance(names_mentioned, str):
        names_mentioned = re.split(r"[,;\n]", names_mentioned)
    names = {" ".join(str(n).split()) for n in names_mentioned if n is not None}
    return sorted((n for n in names if len(n) >= 2), key=len, reverse=True)


def find_listed_names(text: str, names: list[str]) -> Iterable[Candidate]:
    """Each mention of one of `names`, whole words, in any case."""
    if not names:
        return
    alternatives = "|".join(r"\s+".join(map(re.escape, n.split(" "))) for n in names)
    rx = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    for m in rx.finditer(text):
        yield Candidate(m.start(), m.end(), "listed_name", P_LISTED, REASONS["listed_name"])
