"""Coreference probe sets: the built-in templated set, a hand-written set, and user JSONL files.

An example is a text with a pronoun, its antecedent and a distractor (another candidate referent that
occurs BEFORE the pronoun, so a causal attention head could attend to it). Words are located in the
text by these rules, used everywhere (validation, attention probe, behavioural check):

- matching is exact, case-sensitive and whole-word (``he`` does not match inside ``the``);
- the pronoun is its LAST occurrence in the text;
- the antecedent and the distractor are their last occurrences BEFORE the pronoun.

What makes the built-in set meaningful (see probes/README.md for the long version):

1. The antecedent is fixed by agreement, never by world knowledge: the distractor always has the other
   gender (John/Mary, king/queen) or the other animacy (the cup vs Mary) — occupational stereotypes
   ("the doctor ... she") are deliberately not used, because there the "right" answer is a bias.
2. Recency is counterbalanced: in half of the templates the antecedent is the nearer candidate, in the
   other half the farther one — separately within single-sentence and cross-sentence items — so a head
   that attends by position alone scores 0.5 (the result reports this `recency_baseline` for any set,
   built-in or user, overall and per breakdown).
3. Gender is counterbalanced: each template alternates a male and a female antecedent over the same
   name lists, so every name is antecedent and distractor equally often (multi-token names, whose
   summed attention is larger, cannot favour one side).
4. The prefix before the pronoun makes the right pronoun clear to a reader (binding: "Mary called Tom
   and thanked ___" → him; implicit causality: "John apologized to Mary because ___" → he), so the
   behavioural check "P(correct pronoun) > P(contrast pronoun)" has a right answer. The contrast
   pronoun is the form that would agree with the distractor. Cross-sentence subject cases
   ("Tom kicked the ball. ___ rolled away.") are the weakest in this respect.

Registry: `PROBE_SETS` maps a name to a loader; `load_probe_set(name_or_path)` rejects unknown names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from interp.errors import UserError
from interp.jsonl import parse_jsonl

DATA_DIR = Path(__file__).parent / "data"

# --------------------------------------------------------------------------------------------- examples
JSONL_REQUIRED = ("text", "pronoun", "antecedent", "distractor")
JSONL_OPTIONAL = ("category", "contrast", "cross_sentence", "corrupt")

# Default contrast pronoun for user rows without "contrast": the same form with the other gender.
# "her" is ambiguous (object → "him", possessive → "his"), so rows with "her" need an explicit contrast
# for the behavioural check; "it"/"its"/"they" have no single contrast. Such rows get contrast=None
# and are left out of the behavioural check (the attention probe still uses them).
DEFAULT_CONTRAST = {
    "he": "she", "she": "he", "him": "her", "his": "her", "hers": "his",
    "himself": "herself", "herself": "himself",
}

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s")


@dataclass(frozen=True)
class CorefExample:
    """One probe item. `expected` is the pronoun as written; `contrast` the alternative (None: no check)."""

    text: str
    pronoun: str
    antecedent: str
    distractor: str
    category: str = "user"
    cross_sentence: bool = False
    contrast: str | None = None
    where: str = ""  # "data.jsonl line 3" / "builtin #12" — used in error messages
    corrupt: str | None = None  # the corrupted text BEFORE the pronoun (causal probe); None: `corrupt_candidates`

    @property
    def expected(self) -> str:
        return self.pronoun

    def spans(self) -> dict[str, tuple[int, int]]:
        """Character spans [start, end) of pronoun / antecedent / distractor (rules in the module doc)."""
        return locate(self.text, self.pronoun, self.antecedent, self.distractor, self.where)

    def to_dict(self) -> dict:
        return {"text": self.text, "pronoun": self.pronoun, "antecedent": self.antecedent,
                "distractor": self.distractor, "category": self.category,
                "cross_sentence": self.cross_sentence, "expected": self.expected, "contrast": self.contrast,
                **({"corrupt": self.corrupt} if self.corrupt is not None else {})}

    def prefix(self) -> str:
        """The text before the pronoun, trailing whitespace dropped (the causal probe's clean prompt)."""
        return self.text[: self.spans()["pronoun"][0]].rstrip()


def _occurrences(text: str, word: str) -> list[tuple[int, int]]:
    pat = re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)")
    return [(m.start(), m.end()) for m in pat.finditer(text)]


def locate(text: str, pronoun: str, antecedent: str, distractor: str, where: str = "") -> dict[str, tuple[int, int]]:
    """Spans of the pronoun (last occurrence) and of antecedent/distractor (last occurrence before it).

    Raises UserError naming `where` and the missing word.
    """
    at = f"{where}: " if where else ""
    p_occ = _occurrences(text, pronoun)
    if not p_occ:
        raise UserError(f"{at}pronoun {pronoun!r} does not occur in the text as a whole word; fix the row")
    p = p_occ[-1]
    out = {"pronoun": p}
    for role, word in (("antecedent", antecedent), ("distractor", distractor)):
        occ = [o for o in _occurrences(text, word) if o[1] <= p[0]]
        if not occ:
            anywhere = bool(_occurrences(text, word))
            why = "occurs only after the pronoun" if anywhere else "does not occur in the text as a whole word"
            raise UserError(f"{at}{role} {word!r} {why}; it must appear before the pronoun {pronoun!r}")
        out[role] = occ[-1]
    a, d = out["antecedent"], out["distractor"]
    if a[0] < d[1] and d[0] < a[1]:
        raise UserError(f"{at}antecedent {antecedent!r} and distractor {distractor!r} overlap in the text; "
                        "use two different words")
    return out


def crosses_sentence(text: str, antecedent_span: tuple[int, int], pronoun_span: tuple[int, int]) -> bool:
    """True when a sentence end ('.', '!' or '?' then whitespace) lies between antecedent and pronoun."""
    return bool(_SENTENCE_END.search(text, antecedent_span[1], pronoun_span[0]))


def make_example(text: str, pronoun: str, antecedent: str, distractor: str, category: str = "user",
                 contrast: str | None = None, cross_sentence: bool | None = None, where: str = "",
                 corrupt: str | None = None) -> CorefExample:
    """Validate the words against the text and build an example (cross_sentence detected when None)."""
    sp = locate(text, pronoun, antecedent, distractor, where)
    if cross_sentence is None:
        cross_sentence = crosses_sentence(text, sp["antecedent"], sp["pronoun"])
    return CorefExample(text=text, pronoun=pronoun, antecedent=antecedent, distractor=distractor,
                        category=category, cross_sentence=bool(cross_sentence), contrast=contrast, where=where,
                        corrupt=corrupt)


# --------------------------------------------------------------------------------------------- JSONL
def load_jsonl(path: str | Path, default_category: str = "user") -> list[CorefExample]:
    """Read and validate a JSONL probe file (format in probes/README.md). Errors name the line number."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"probe data file {str(path)!r} not found; pass an existing .jsonl file or a probe set name "
                        f"({', '.join(PROBE_SETS)})")
    from interp.text_input import read_text_file

    text = read_text_file(path, "probe data file")
    allowed = JSONL_REQUIRED + JSONL_OPTIONAL
    out: list[CorefExample] = []
    for lineno, row in parse_jsonl(text, path.name):
        where = f"{path.name} line {lineno}"
        missing = [k for k in JSONL_REQUIRED if k not in row]
        if missing:
            raise UserError(f"{where}: missing key(s) {', '.join(repr(k) for k in missing)}; "
                            f"every row needs {', '.join(JSONL_REQUIRED)}")
        unknown = sorted(set(row) - set(allowed))
        if unknown:
            raise UserError(f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                            f"allowed: {', '.join(allowed)}")
        for k in JSONL_REQUIRED + ("category", "contrast", "corrupt"):
            if k in row and row[k] is not None and not (isinstance(row[k], str) and row[k].strip()):
                raise UserError(f"{where}: {k!r} must be a non-empty string, got {row[k]!r}")
        if row.get("cross_sentence") is not None and not isinstance(row["cross_sentence"], bool):
            raise UserError(f"{where}: 'cross_sentence' must be true or false, got {row['cross_sentence']!r}")
        pronoun = row["pronoun"].strip()
        contrast = row.get("contrast")
        contrast = contrast.strip() if contrast else _default_contrast(pronoun)
        if contrast is not None and contrast == pronoun:
            raise UserError(f"{where}: contrast {contrast!r} equals the pronoun; give the alternative pronoun")
        out.append(make_example(row["text"], pronoun, row["antecedent"].strip(), row["distractor"].strip(),
                                category=(row.get("category") or default_category).strip(), contrast=contrast,
                                cross_sentence=row.get("cross_sentence"), where=where, corrupt=row.get("corrupt")))
    if not out:
        raise UserError(f"{path} has no examples; write one JSON object per line")
    return out


def _default_contrast(pronoun: str) -> str | None:
    c = DEFAULT_CONTRAST.get(pronoun.lower())
    if c is None:
        return None
    return c.capitalize() if pronoun[:1].isupper() else c


# --------------------------------------------------------------------------------------------- built-in set
MALE_NAMES = ("John", "Tom", "James", "David", "Peter", "Mark", "Paul", "Robert")
FEMALE_NAMES = ("Mary", "Sarah", "Anna", "Emma", "Lucy", "Kate", "Jane", "Alice")
MALE_NOUNS = ("king", "father", "brother", "uncle", "husband", "boy", "prince", "man")
FEMALE_NOUNS = ("queen", "mother", "sister", "aunt", "wife", "girl", "princess", "woman")
THINGS = ("ball", "cup", "book", "box", "lamp", "bottle", "phone", "chair")

PRONOUNS = {  # gender → role → form
    "m": {"subj": "he", "obj": "him", "pos": "his"},
    "f": {"subj": "she", "obj": "her", "pos": "her"},
    "n": {"subj": "it", "obj": "it", "pos": "its"},
}


@dataclass(frozen=True)
class Template:
    """`text` has {A} (antecedent), {D} (distractor), {P} (pronoun); kinds are name / noun / thing."""

    category: str
    text: str
    role: str  # subj | obj | pos
    a_kind: str = "name"
    d_kind: str = "name"


# N / F: the antecedent is the nearer / farther candidate. Single-sentence: 15 N + 15 F; cross-sentence
# (antecedent in an earlier sentence than the pronoun): 6 N + 6 F. A "D." prefix sentence only moves the
# distractor into another sentence — the antecedent is still in the pronoun's sentence (single).
TEMPLATES: tuple[Template, ...] = (
    # possessive — his/her
    Template("possessive", "{D} watched as {A} lost {P} keys.", "pos"),                                   # N
    Template("possessive", "{D} smiled when {A} found {P} hat.", "pos"),                                  # N
    Template("possessive", "{D} stayed at home. {A} packed {P} bag.", "pos"),                             # N
    Template("possessive", "{A} shouted at {D} for taking {P} keys.", "pos"),                             # F
    Template("possessive", "{A} thanked {D} for finding {P} wallet.", "pos"),                             # F
    Template("possessive", "{A} complained to {D} that someone had stolen {P} bike.", "pos"),             # F
    Template("possessive", "{D} drove {A} home. {P} car was broken.", "pos"),                             # N cross
    Template("possessive", "{A} was upset. {D} had hidden {P} keys.", "pos"),                             # F cross
    # subject — he/she (implicit-causality verbs fix the referent)
    Template("subject", "{D} thanked {A} because {P} had helped.", "subj"),                               # N
    Template("subject", "{D} praised {A} because {P} had worked hard.", "subj"),                          # N
    Template("subject", "{D} waved. {A} said {P} was tired.", "subj"),                                    # N
    Template("subject", "{A} apologized to {D} because {P} was wrong.", "subj"),                          # F
    Template("subject", "{A} confessed to {D} that {P} had lied.", "subj"),                               # F
    Template("subject", "{A} won against {D} because {P} was faster.", "subj"),                           # F
    Template("subject", "{D} gave {A} a present. {P} opened it.", "subj"),                                # N cross
    Template("subject", "{A} apologized to {D}. {P} felt guilty.", "subj"),                               # F cross
    # object — him/her (binding: the clause's own subject would need -self)
    Template("object", "{D} called {A} and thanked {P}.", "obj"),                                         # N
    Template("object", "{D} met {A} and hugged {P}.", "obj"),                                             # N
    Template("object", "{D} was busy. {A} fell, and a friend helped {P} up.", "obj"),                     # N
    Template("object", "{A} asked {D} to help {P}.", "obj"),                                              # F
    Template("object", "{A} waited for {D} to call {P}.", "obj"),                                         # F
    Template("object", "{A} asked {D} to wait for {P}.", "obj"),                                          # F
    Template("object", "{D} sent {A} a letter. Nobody had written to {P} in years.", "obj"),              # N cross
    Template("object", "{A} was sad. {D} hugged {P}.", "obj"),                                            # F cross
    # noun — gendered common nouns instead of names (mixed roles)
    Template("noun", "The {D} watched as the {A} lost {P} keys.", "pos", "noun", "noun"),                 # N
    Template("noun", "The {D} called the {A} and thanked {P}.", "obj", "noun", "noun"),                   # N
    Template("noun", "The {D} waved. The {A} said {P} was tired.", "subj", "noun", "noun"),               # N
    Template("noun", "The {A} apologized to the {D} because {P} was wrong.", "subj", "noun", "noun"),     # F
    Template("noun", "The {A} asked the {D} to help {P}.", "obj", "noun", "noun"),                        # F
    Template("noun", "The {A} shouted at the {D} for taking {P} keys.", "pos", "noun", "noun"),           # F
    Template("noun", "The {D} gave the {A} a present. {P} opened it.", "subj", "noun", "noun"),           # N cross
    Template("noun", "The {A} was sad. The {D} hugged {P}.", "obj", "noun", "noun"),                      # F cross
    # inanimate — it/its vs he/she (animacy decides)
    Template("inanimate", "{D} dropped the {A} and broke {P}.", "obj", "thing", "name"),                  # N
    Template("inanimate", "{D} bought the {A} because {P} was cheap.", "subj", "thing", "name"),          # N
    Template("inanimate", "The {D} hit {A} on {P} head.", "pos", "name", "thing"),                        # N
    Template("inanimate", "The {A} belonged to {D}, who had painted {P}.", "obj", "thing", "name"),       # F
    Template("inanimate", "{A} dropped the {D} and hurt {P} hand.", "pos", "name", "thing"),              # F
    Template("inanimate", "The {A} fell on {D}, but {P} did not break.", "subj", "thing", "name"),        # F
    Template("inanimate", "{D} kicked the {A}. {P} rolled away.", "subj", "thing", "name"),               # N cross
    Template("inanimate", "{D} found the {A}. {P} was broken.", "subj", "thing", "name"),                 # N cross
    Template("inanimate", "The {A} was on the table. {D} picked {P} up.", "obj", "thing", "name"),        # F cross
    Template("inanimate", "{A} saw the {D}. {P} smiled.", "subj", "name", "thing"),                       # F cross
)


def _filler(kind: str, gender: str, j: int) -> str:
    if kind == "thing":
        return THINGS[j % len(THINGS)]
    pool = {("name", "m"): MALE_NAMES, ("name", "f"): FEMALE_NAMES,
            ("noun", "m"): MALE_NOUNS, ("noun", "f"): FEMALE_NOUNS}[(kind, gender)]
    return pool[j % len(pool)]


def _render(t: Template, a: str, d: str, p: str) -> tuple[str, str]:
    """Fill a template; capitalize {A}/{D}/{P} at a sentence start. Returns (text, pronoun as written)."""
    text = t.text
    i = text.index("{P}")
    if i == 0 or text[:i].rstrip().endswith((".", "!", "?")):
        p = p.capitalize()
    return text.replace("{A}", a).replace("{D}", d).replace("{P}", p), p


def builtin_examples(n_per_template: int = 8) -> list[CorefExample]:
    """The templated set: len(TEMPLATES) × n_per_template examples, deterministic (no RNG).

    Example i of a template has a male antecedent when i is even, female when odd (things: the person
    alternates); fillers rotate through the lists, offset per template, so names vary across templates.
    """
    if n_per_template < 1:
        raise UserError(f"n_per_template must be >= 1, got {n_per_template}")
    out: list[CorefExample] = []
    for ti, t in enumerate(TEMPLATES):
        for i in range(n_per_template):
            person = "m" if i % 2 == 0 else "f"
            other = "f" if person == "m" else "m"
            j = i // 2 + ti
            a_gender = "n" if t.a_kind == "thing" else person
            d_gender = "n" if t.d_kind == "thing" else (other if t.a_kind != "thing" else person)
            a = _filler(t.a_kind, a_gender, j)
            d = _filler(t.d_kind, d_gender, j + 3)
            text, pron = _render(t, a, d, PRONOUNS[a_gender][t.role])
            contrast = PRONOUNS[d_gender][t.role]
            contrast = contrast.capitalize() if pron[:1].isupper() else contrast
            out.append(make_example(text, pron, a, d, category=t.category, contrast=contrast,
                                    where=f"builtin #{len(out)}"))
    return out


# --------------------------------------------------------------------------------------------- corrupted twins
CORRUPTION_RULE = (
    "corrupt twin (causal probe): the text before the pronoun with every occurrence of the antecedent replaced "
    "by a word of the OTHER gender of the same kind (names: the other-gender name list, starting at the same "
    "index; gendered nouns: king↔queen, father↔mother, ...), then the wider lists (60 names per gender, 38 noun "
    "pairs; an antecedent in no list takes its gender from the pronoun), skipping the distractor; the probe uses "
    "the first candidate whose prompt has the clean prompt's token count — so the referent now takes the contrast "
    "pronoun. "
    "Inanimate antecedents (it/its) have no gender counterpart: those items are left out unless the row "
    "gives `corrupt` (the corrupted text before the pronoun) itself."
)
_COUNTERPARTS: dict[str, tuple[str, ...]] = {}
for _m, _f in ((MALE_NAMES, FEMALE_NAMES), (MALE_NOUNS, FEMALE_NOUNS)):
    for _i, _w in enumerate(_m):
        _COUNTERPARTS[_w] = _f[_i:] + _f[:_i]
    for _i, _w in enumerate(_f):
        _COUNTERPARTS[_w] = _m[_i:] + _m[:_i]

# The wider search (after the built-in counterparts above, whose order keeps the built-in set's twins): common
# English first names and gendered nouns, so a user's sentence finds an other-gender word of the same token
# count under any tokenizer; the antecedent's gender comes from the list it is in, else from the pronoun.
MORE_MALE_NAMES = (
    "Adam", "Alan", "Alex", "Andrew", "Ben", "Bill", "Bob", "Brian", "Carl", "Charles", "Chris", "Dan", "Daniel",
    "Ed", "Edward", "Eric", "Frank", "Fred", "George", "Greg", "Harry", "Henry", "Ian", "Jack", "Jake", "Jim", "Joe",
    "Jonathan", "Kevin", "Leo", "Luke", "Matt", "Max", "Michael", "Mike", "Nick", "Oliver", "Oscar", "Ray", "Richard",
    "Rob", "Roger", "Sam", "Steve", "Ted", "Thomas", "Tim", "Victor", "Walter", "William", "Will", "Zack", "Al",
    "Ron", "Ken", "Lee", "Guy", "Hugh", "Ivan", "Owen", "Alexander", "Christopher", "Maximilian", "Sebastian",
    "Frederick", "Nathaniel", "Augustus", "Cornelius", "Reginald", "Montgomery", "Benedict", "Ignatius",
)
MORE_FEMALE_NAMES = (
    "Amy", "Ann", "Beth", "Carol", "Claire", "Diana", "Ella", "Ellen", "Eva", "Eve", "Grace", "Helen", "Ida",
    "Iris", "Ivy", "Jess", "Jill", "Joan", "Julia", "Karen", "Laura", "Lily", "Linda", "Lisa", "Liz",
    "Maria", "Meg", "Mia", "Nina", "Nora", "Olivia", "Pam", "Rachel", "Rose", "Ruth", "Sally", "Sara", "Sophie",
    "Sue", "Susan", "Tina", "Vera", "Wendy", "Zoe", "Ada", "Amber", "Anne", "Bella", "Cara", "Dora", "Elsa",
    "Fay", "Gina", "Hana", "Jo", "Kim", "Lea", "May", "Elizabeth", "Josephine", "Anastasia", "Gwendolyn",
    "Penelope", "Genevieve", "Evangeline", "Rosalind", "Marguerite", "Philippa", "Cordelia", "Ophelia",
)
NOUN_PAIRS = (  # (male, female), beyond MALE_NOUNS/FEMALE_NOUNS
    ("son", "daughter"), ("nephew", "niece"), ("grandfather", "grandmother"), ("grandson", "granddaughter"),
    ("dad", "mom"), ("lord", "lady"), ("duke", "duchess"), ("actor", "actress"), ("waiter", "waitress"),
    ("gentleman", "lady"), ("groom", "bride"), ("monk", "nun"), ("emperor", "empress"), ("count", "countess"),
    ("god", "goddess"), ("hero", "heroine"), ("host", "hostess"), ("boyfriend", "girlfriend"),
    ("stepfather", "stepmother"), ("grandpa", "grandma"), ("sir", "madam"), ("widower", "widow"),
    ("landlord", "landlady"), ("policeman", "policewoman"), ("fiance", "fiancee"), ("lad", "lass"), ("male", "female"),
    ("guy", "gal"), ("papa", "mama"), ("bull", "cow"),
)
_MALE_PRONOUNS = {"he", "him", "his", "himself"}
_FEMALE_PRONOUNS = {"she", "her", "hers", "herself"}


def _other_gender_pool(ex: CorefExample) -> tuple[str, ...]:
    """Every other-gender word of the antecedent's kind (names if capitalized and not a known noun, else nouns)."""
    word = ex.antecedent.lower()
    m_nouns = MALE_NOUNS + tuple(m for m, _ in NOUN_PAIRS)
    f_nouns = FEMALE_NOUNS + tuple(f for _, f in NOUN_PAIRS)
    m_names, f_names = MALE_NAMES + MORE_MALE_NAMES, FEMALE_NAMES + MORE_FEMALE_NAMES
    if word in m_nouns:
        return f_nouns
    if word in f_nouns:
        return m_nouns
    if ex.antecedent in m_names:
        return f_names
    if ex.antecedent in f_names:
        return m_names
    gender = "m" if ex.pronoun.lower() in _MALE_PRONOUNS else "f" if ex.pronoun.lower() in _FEMALE_PRONOUNS else None
    if gender is None:
        return ()
    name = ex.antecedent[:1].isupper() and " " not in ex.antecedent and ex.prefix().find(ex.antecedent) != 0
    if name or (ex.antecedent[:1].isupper() and ex.antecedent.lower() not in m_nouns + f_nouns):
        return f_names if gender == "m" else m_names
    return f_nouns if gender == "m" else m_nouns


def corrupt_candidates(ex: CorefExample) -> list[str]:
    """Corrupted prefixes for `ex`, best first (rule: `CORRUPTION_RULE`): the user's `corrupt` alone when given,
    else the prefix with the antecedent swapped for each other-gender counterpart (the built-in counterparts first,
    then the wider name/noun lists); [] when there is none."""
    if ex.corrupt is not None:
        return [ex.corrupt]
    first = _COUNTERPARTS.get(ex.antecedent) or _COUNTERPARTS.get(ex.antecedent.lower()) or ()
    alts = list(dict.fromkeys([*first, *_other_gender_pool(ex)]))
    if not alts:
        return []
    prefix = ex.prefix()
    pat = re.compile(r"(?<!\w)" + re.escape(ex.antecedent) + r"(?!\w)")
    out = []
    for alt in alts:
        if alt.lower() == ex.distractor.lower():
            continue
        word = alt.capitalize() if ex.antecedent[:1].isupper() else alt
        out.append(pat.sub(word, prefix))
    return out


# --------------------------------------------------------------------------------------------- registry
PROBE_SETS: dict[str, Callable[[], list[CorefExample]]] = {
    "builtin": lambda: builtin_examples(8),
    "builtin-small": lambda: builtin_examples(2),
    "handwritten": lambda: load_jsonl(DATA_DIR / "coref_handwritten.jsonl", default_category="handwritten"),
}


def load_probe_set(name_or_path: str) -> tuple[str, list[CorefExample]]:
    """A registered probe set by name, or a JSONL file (a value ending in .jsonl or naming an existing file).

    Unknown names raise UserError listing the known ones. Returns (label, examples).
    """
    if name_or_path in PROBE_SETS:
        return name_or_path, PROBE_SETS[name_or_path]()
    p = Path(name_or_path).expanduser()
    if name_or_path.endswith(".jsonl") or p.is_file() or "/" in name_or_path:
        return str(p), load_jsonl(p)
    raise UserError(f"unknown probe set {name_or_path!r}; use one of {', '.join(PROBE_SETS)} or a .jsonl file")
