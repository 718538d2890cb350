"""Breadth: lexicons for Altman & Taylor's (1973) 13 areas of life (ids in :data:`reciprocity.schema.TOPICS`).

Each area is a hand-built lexicon of words, stems and short patterns, compiled to one case-insensitive regex
with word boundaries and matched with ``pandas.Series.str.contains`` (one vectorised pass per area). Lexicon
sources: the area definitions and examples of Altman & Taylor's topical intimacy scales (Taylor & Altman 1966),
the OffMyChest coders' instructions (age, job, residence, family, health, appearance, behaviour) and
common Reddit vocabulary. Conventions:

* mental health is filed with *physical condition & appearance* (health), as in the original item pool;
* *emotions* is also assigned whenever the sentence's emotional-disclosure probability passes its threshold;
* *biographical* covers age, name, residence, origin, nationality and job-title self-descriptions;
* only sentences predicted to disclose get topics (the detector applies that mask).

The lexicons are a transparent, auditable baseline, not a trained classifier: expect misses for paraphrase and
false hits for figurative use ("this game is killing me").
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from reciprocity.schema import TOPICS
from .lexmatch import ColumnMatcher

_JOBS = (
    "nurse|teacher|doctor|physician|surgeon|dentist|engineer|developer|programmer|software engineer|lawyer|"
    "attorney|accountant|cashier|waiter|waitress|bartender|barista|chef|cook|driver|mechanic|electrician|"
    "plumber|carpenter|pilot|soldier|veteran|cop|police officer|firefighter|paramedic|emt|pharmacist|therapist|"
    "counselor|counsellor|social worker|scientist|researcher|professor|lecturer|student|grad student|"
    "freshman|sophomore|junior|senior|manager|consultant|designer|artist|writer|journalist|photographer|"
    "musician|farmer|janitor|cleaner|receptionist|secretary|librarian|vet|veterinarian|stay[- ]at[- ]home (?:mom|dad|parent)|"
    "sahm|sahd|retiree|intern|contractor|freelancer|entrepreneur|small business owner|caregiver|nanny|tutor"
)
_NATIONALITIES = (
    "american|british|english|scottish|welsh|irish|canadian|australian|kiwi|indian|pakistani|chinese|japanese|"
    "korean|filipino|vietnamese|thai|german|french|italian|spanish|portuguese|brazilian|mexican|dutch|swedish|"
    "norwegian|danish|finnish|polish|russian|ukrainian|turkish|greek|nigerian|kenyan|south african|egyptian|"
    "latina|latino|hispanic|asian|black|white|jewish|arab|persian|iranian"
)

#: Area id -> list of regex alternatives (matched case-insensitively inside ``\b(?:...)\b``).
LEXICON: dict[str, list[str]] = {
    "religion": [
        "god", "gods", "jesus", "christ", "church(?:es)?", "pray(?:s|ed|ing|er|ers)?", "bible", "biblical",
        "faith", "religio(?:n|ns|us)", "atheis(?:t|m|ts)", "agnostic", "muslims?", "islam(?:ic)?", "allah",
        "mosques?", "quran", "koran", "jewish", "judaism", "synagogue", "torah", "rabbi", "hindu(?:ism)?",
        "buddhis(?:t|m)", "temples?", "spiritual(?:ity)?", "heaven", "hell", "sins?", "sinful", "salvation",
        "bapti[sz]ed", "catholic(?:ism)?", "protestant", "christians?", "christianity", "mormon", "lds",
        "pastor", "priest", "minister", "sermons?", "scriptures?", "holy", "the lord", "afterlife", "souls?",
        "karma", "ramadan", "easter", "worship(?:ped|ping)?", "gospel", "evangelical", "devil", "satan",
        "angels?", "blessed", "convert(?:ed)? to", "believe in god", "born again", "sunday school", "mass",
    ],
    "marriage_family": [
        "married", "marriage", "marry", "wedding", "husband", "hubby", "wife", "wifey", "spouse", "fianc[eé]e?",
        "divorc(?:e|ed|ing)", "separated", "my (?:kids?|children|son|daughter|baby|babies|toddler|boys|girls)",
        "our (?:kids?|children|son|daughter|baby|family|home)", "pregnan(?:t|cy)", "newborn", "toddler",
        "in-laws?", "(?:mother|father|sister|brother)[- ]in[- ]law", "step(?:son|daughter|kids?|children)",
        "honeymoon", "anniversary", "custody", "child support", "parenting", "widow(?:er|ed)?", "engaged",
        "engagement", "grandkids", "grandchild(?:ren)?", "grand(?:son|daughter)", "nephew", "niece",
        "my family", "family", "breastfeed(?:ing)?", "diapers?", "daycare", "bedtime", "househusband",
        "housewife", "stay[- ]at[- ]home (?:mom|dad|parent)", "ivf", "miscarr(?:y|iage|ied)", "adopt(?:ed|ion)?",
        "(?:a|good|bad|better|new|single|first[- ]time|young) (?:father|mother|parent|mom|mum|dad)",
    ],
    "love_dating_sex": [
        "boyfriends?", "girlfriends?", "bf", "gf", "partner", "dating", "dated", "date", "crush(?:es|ing)?",
        "relationships?", "broke up", "break ?up", "breaking up", "my ex", "ex-(?:boyfriend|girlfriend|wife|husband)",
        "kiss(?:ed|ing)?", "sex", "sexual(?:ity|ly)?", "virgin(?:ity)?", "hook(?:ed)? ?up", "tinder", "bumble",
        "hinge", "romantic", "romance", "cheat(?:ed|ing|er)?", "affair", "flirt(?:ed|ing)?", "gay", "lesbian",
        "bisexual", "bi", "queer", "trans", "transgender", "lgbtq?\\+?", "asexual", "pansexual", "coming out",
        "came out", "closeted", "porn", "orgasms?", "libido", "soul ?mate", "valentines?", "attracted to",
        "attraction", "intima(?:te|cy)", "slept with", "sleep(?:ing)? with", "one night stand", "lover",
        "in love", "fell for", "falling for", "first love", "love of my life", "proposed", "propose",
        "honeymoon", "condoms?", "birth control", "making out", "made out", "friends with benefits", "fwb",
    ],
    "parental_family": [
        "mom", "mum", "mommy", "mummy", "mother", "moms", "dad", "daddy", "father", "parents?", "stepmom",
        "stepdad", "step(?:mother|father|brother|sister)", "brothers?", "sisters?", "siblings?", "bro", "sis",
        "grandma", "grandmother", "grandpa", "grandfather", "granny", "nana", "grandparents?", "aunts?",
        "auntie", "uncles?", "cousins?", "childhood", "growing up", "grew up", "when i was (?:a kid|little|young|a child|a teen(?:ager)?)",
        "as a (?:kid|child|teen(?:ager)?)", "raised (?:me|by)", "adopted", "foster (?:care|home|parents?)",
        "twin", "my family", "family home", "my folks",
    ],
    "physical_condition_appearance": [
        "health", "healthy", "sick", "sickness", "illness", "ill", "diseases?", "diagnos(?:ed|is|es)", "cancer",
        "tumou?rs?", "chemo(?:therapy)?", "surger(?:y|ies)", "operation", "hospital(?:i[sz]ed)?", "er visit",
        "doctors?", "pain(?:ful)?", "chronic", "diabet(?:es|ic)", "asthma", "allerg(?:y|ies|ic)", "injur(?:y|ies|ed)",
        "broke my (?:arm|leg|wrist|ankle|back|nose)", "weight", "fat", "overweight", "skinny", "obes(?:e|ity)",
        "diet(?:ing)?", "lost \\d+ ?(?:lbs|pounds|kg)", "gained \\d+ ?(?:lbs|pounds|kg)", "\\d+ ?(?:lbs|pounds|kg)",
        "height", "tall", "acne", "skin", "hair", "bald(?:ing)?", "ugly", "attractive", "appearance",
        "my (?:body|face|nose|teeth|weight|looks|skin|hair|legs|arms|stomach|boobs|chest)", "disab(?:led|ility|ilities)",
        "wheelchair", "blind", "deaf", "depress(?:ion|ed)", "anxiety", "panic attacks?", "mental health",
        "mental(?:ly)? ill(?:ness)?", "therap(?:y|ist)", "psychiatrist", "psychologist", "meds", "medications?",
        "antidepressants?", "ssris?", "bipolar", "adhd", "add", "autis(?:m|tic)", "asperger'?s?", "ptsd", "ocd",
        "eating disorder", "anorexi(?:a|c)", "bulimi(?:a|c)", "binge", "suicid(?:e|al)", "self[- ]harm",
        "cutting myself", "insomnia", "migraines?", "covid", "flu", "virus", "infection", "stds?", "hiv",
        "my period", "pregnan(?:t|cy)", "sober", "sobriety", "addict(?:ed|ion)?", "alcoholi(?:c|sm)", "rehab",
        "relapse(?:d)?", "seizures?", "epilep(?:sy|tic)", "stroke", "heart attack", "blood pressure", "sleep",
        "tired", "exhausted", "scars?", "tattoos?", "glasses", "braces", "pimples?", "body image", "dysphoria",
    ],
    "money_property": [
        "money", "cash", "salary", "paycheck", "income", "wages?", "debts?", "loans?", "mortgage", "rent",
        "bills", "broke(?! up)", "afford(?:ed)?", "can't afford", "savings", "saved up", "bank", "credit cards?",
        "credit score", "budget", "expensive", "cheap", "rich", "poor", "poverty", "wealth(?:y)?", "inherit(?:ance|ed)?",
        "my (?:house|home|apartment|flat|condo|car|truck|bike|place|room|property)", "property", "landlord",
        "bought", "buy(?:ing)?", "purchase[ds]?", "invest(?:ed|ing|ment|ments)?", "stocks?", "crypto", "bitcoin",
        "retirement", "401k", "pension", "tax(?:es)?", "\\$\\s?\\d", "\\d+ ?(?:dollars|bucks|grand|k)\\b", "£\\s?\\d",
        "€\\s?\\d", "lottery", "bankrupt(?:cy)?", "evict(?:ed|ion)", "homeless", "unemployment", "welfare",
        "food stamps", "paid off", "owe", "owed", "lend", "lent", "borrow(?:ed)?", "tips", "raise",
    ],
    "politics_social_issues": [
        "politic(?:s|al|ian|ians)", "elections?", "vot(?:e|ed|ing|er|ers)", "democrats?", "republicans?",
        "liberals?", "conservatives?", "left[- ]wing", "right[- ]wing", "trump", "biden", "obama", "clinton",
        "brexit", "government", "president", "congress", "parliament", "senat(?:e|or)", "laws?", "police",
        "cops", "immigra(?:nt|nts|tion)", "refugees?", "racis(?:m|t)", "sexis(?:m|t)", "feminis(?:m|t)",
        "misogyn(?:y|ist)", "homophob(?:ia|ic)", "transphob(?:ia|ic)", "abortion", "pro[- ]choice", "pro[- ]life",
        "guns?", "gun control", "climate change", "global warming", "equality", "discriminat(?:ion|ed)",
        "protests?", "activis(?:m|t)", "human rights", "civil rights", "privilege", "socialis(?:m|t)",
        "capitalis(?:m|t)", "communis(?:m|t)", "war", "military", "healthcare system", "the system", "society",
        "social justice", "blm", "black lives matter", "metoo", "gender roles", "patriarchy", "taxpayers?",
    ],
    "emotions": [
        "feel(?:s|ing|ings)?", "felt", "happ(?:y|ier|iest|iness)", "sad(?:ness|der)?", "angry", "anger", "mad",
        "upset", "cr(?:y|ied|ies|ying)", "tears?", "sobb(?:ing|ed)", "scared", "afraid", "fears?", "terrified",
        "terrifies", "anxious", "nervous", "worr(?:y|ied|ies|ying)", "lonel(?:y|iness)", "heartbr(?:oken|eak|eaking)",
        "hurts?", "hurting", "jealous(?:y)?", "envy", "envious", "ashamed", "shame(?:ful)?", "embarrass(?:ed|ing|ment)",
        "guilt(?:y)?", "proud", "grateful", "thankful", "excit(?:ed|ing|ement)", "love", "loved", "hate[ds]?",
        "frustrat(?:ed|ing|ion)", "annoy(?:ed|ing)", "overwhelm(?:ed|ing)", "stress(?:ed|ful)?", "relie(?:f|ved)",
        "hopeless", "hopeful", "miserable", "devastat(?:ed|ing)", "joy(?:ful)?", "glad", "furious", "disgust(?:ed|ing)?",
        "bitter", "regret(?:s|ted)?", "i miss", "numb", "empty", "broken", "heart (?:melted|broke|sank)",
        "my heart", "lol", "haha+", "omg", "ugh", "yay", "wtf", "touched", "moved", "bless", "ecstatic",
        "thrilled", "content", "peaceful", "calm", "resent(?:ful|ment)?", "despair", "grief", "griev(?:e|ing)",
        "mourn(?:ing)?", "insecure", "insecurit(?:y|ies)", "vulnerable", "helpless", "worthless", "useless",
    ],
    "interests_hobbies_habits": [
        "hobb(?:y|ies)", "play(?:s|ed|ing)? (?:the )?(?:guitar|piano|drums|violin|games?|football|soccer|basketball|tennis|golf)",
        "gam(?:e|es|ing|er)", "video games?", "xbox", "playstation", "ps[345]", "nintendo", "switch", "steam",
        "read(?:ing)?", "books?", "novels?", "music", "songs?", "bands?", "concerts?", "guitar", "piano", "drums",
        "sing(?:ing)?", "danc(?:e|ing)", "movies?", "films?", "netflix", "tv", "shows?", "series", "anime",
        "manga", "sports?", "football", "soccer", "basketball", "baseball", "hockey", "tennis", "golf",
        "running", "jogging", "marathon", "hik(?:e|ing)", "camping", "fishing", "hunting", "gym", "work ?out",
        "working out", "lift(?:ing)?", "yoga", "swim(?:ming)?", "cycling", "biking", "cook(?:ing)?", "bak(?:e|ing)",
        "recipes?", "garden(?:ing)?", "paint(?:ing)?", "draw(?:ing)?", "art", "photography", "travel(?:l?ing|led)?",
        "knit(?:ting)?", "crochet(?:ing)?", "collect(?:ing|ion)", "coffee", "tea", "smok(?:e|ing|er)", "weed",
        "beer", "wine", "drinking", "pets?", "dogs?", "cats?", "pupp(?:y|ies)", "kittens?", "every (?:morning|day|night|weekend)",
        "usually", "routine", "habits?", "i like to", "i love to", "i enjoy", "favou?rites?", "podcasts?",
        "youtube", "reddit", "lurk(?:er|ing)?", "puzzles?", "board games?", "d&d", "dnd", "lego", "vinyl",
    ],
    "relations_with_others": [
        "friends?", "friendships?", "best friend", "bff", "buddy", "buddies", "pals?", "roommates?", "flatmates?",
        "neighbou?rs?", "coworkers?", "co-workers?", "colleagues?", "classmates?", "acquaintances?", "strangers?",
        "people", "someone", "everyone", "nobody", "trust(?:ed)?", "betray(?:ed|al)", "argu(?:e|ed|ment|ing)",
        "fight", "fought", "bull(?:y|ied|ies|ying)", "social(?:ly|i[sz]e|i[sz]ing)?", "hang(?:ing)? out",
        "hung out", "part(?:y|ies)", "group", "toxic", "manipulat(?:ive|ed|ion)", "abus(?:e|ed|ive|er)",
        "ghost(?:ed|ing)", "ignor(?:e|ed|ing)", "support system", "community", "the guys", "the girls",
        "my team", "they all", "left out", "fell out", "falling out", "made friends", "no friends", "introvert(?:ed)?",
        "extrovert(?:ed)?", "shy", "awkward", "apologi[sz]ed",
    ],
    "attitudes_values": [
        "i think", "i believe", "i feel like", "in my opinion", "imo", "imho", "honestly", "i value", "values",
        "morals?", "moral(?:ly|ity)", "ethic(?:s|al)", "principles?", "the right thing", "i agree", "i disagree",
        "i hate (?:when|it when|that)", "i can't stand", "i prefer", "my (?:view|opinion|stance|philosophy)",
        "priorit(?:y|ies)", "i'd rather", "i would never", "i always try", "i try to", "life is",
        "people should", "meaning of life", "purpose", "deserve[ds]?", "respect", "honesty", "integrity",
        "important to me", "matters to me", "i don't believe", "i used to think", "i realized", "i realised",
        "i learned", "i've learned", "lesson", "should(?:n't)?", "unfair", "fair", "wrong", "i'm against",
        "i support", "i'm all for", "i refuse", "never again", "to be fair", "the way i see it",
    ],
    "school_work": [
        "school", "high ?school", "middle school", "college", "universit(?:y|ies)", "uni", "class(?:es|mates?)?",
        "courses?", "degree", "major(?:ing|ed)?", "exams?", "tests?", "grades?", "gpa", "homework", "teachers?",
        "professors?", "students?", "graduat(?:e|ed|ing|ion)", "phd", "masters?", "thesis", "dissertation",
        "semester", "jobs?", "work(?:ing|ed|s)?", "career", "boss", "office", "shifts?", "hired", "fired",
        "laid off", "quit", "interviews?", "promot(?:ed|ion)", "employ(?:er|ee|ed|ment)", "managers?",
        "intern(?:ship)?", "business", "company", "clients?", "customers?", "retail", "unemployed", "resume",
        "cv", "overtime", "(?:i'?m|i am) (?:an? )?(?:" + _JOBS + ")", "coworkers?", "colleagues?", "workplace", "startup", "lab", "research", "tuition",
        "student loans?", "scholarship", "dorm", "campus", "lecture", "kindergarten", "preschool", "my (?:field|profession|trade|industry)",
        "i work (?:as|at|in|for)", "as an? (?:" + _JOBS + ")",
    ],
    "biographical": [
        "i'?m (?:now )?\\d{1,2}", "i am (?:now )?\\d{1,2}", "\\d{1,2} (?:years?|yrs?|yo|y/o)(?: old)?", "\\d{1,2} ?[mf]",
        "[mf] ?\\d{2}", "(?:turned|turning) \\d{1,2}", "my name is", "call me", "my name'?s",
        "i (?:live|lived|grew up|was raised|was born|moved) (?:in|to|near|outside)", "i'?m from", "i am from",
        "born in", "born and raised", "my hometown", "my birthday", "my age", "(?:my|our) (?:early |mid |late )?(?:teens|20s|30s|40s|50s|60s|twenties|thirties|forties|fifties|sixties)",
        "(?:i'?m|i am|i was|i work as) (?:an? )?(?:" + _JOBS + ")", "as an? (?:" + _JOBS + ")",
        "(?:i'?m|i am) (?:a |an )?(?:" + _NATIONALITIES + ")", "my (?:job|occupation) is",
        "(?:i'?m|i am) (?:single|married|divorced|widowed|engaged|retired|unemployed|a (?:mom|dad|mother|father|parent|grandma|grandpa) of)",
        "i have (?:a|two|three|four|\\d) (?:kids?|children|sons?|daughters?|brothers?|sisters?|siblings?)",
        "only child", "first[- ]born", "middle child", "youngest (?:of|child)", "oldest (?:of|child)",
        "class of \\d{2,4}", "graduated (?:in|from)",
    ],
}

assert tuple(LEXICON) == TOPICS, "lexicon keys must follow reciprocity.schema.TOPICS"


def _group_by_first_char(alternatives: list[str]) -> str:
    """Factor alternatives that start with a literal character into ``c(?:rest1|rest2)`` groups.

    Python's ``re`` does not build a trie for alternations; dispatching on the first character makes the
    match roughly 5x faster without changing what matches. Longest alternatives come first within a group.
    """
    groups: dict[str, list[str]] = {}
    other: list[str] = []
    for alt in sorted(alternatives, key=lambda a: (-len(a), a)):
        if alt[0].isalnum() and (len(alt) == 1 or alt[1] not in "?*+{"):
            groups.setdefault(alt[0], []).append(alt[1:])
        else:
            other.append(alt)
    return "|".join([f"{c}(?:{'|'.join(rest)})" for c, rest in sorted(groups.items())] + other)


def compile_lexicon(lexicon: dict[str, list[str]] | None = None) -> dict[str, re.Pattern[str]]:
    """One pattern per area: ``(?<![\\w'])(?:alt1|alt2|...)(?!\\w)``, matched against lower-cased text."""
    lexicon = lexicon or LEXICON
    return {
        topic: re.compile(r"(?<![\w'])(?:" + _group_by_first_char([a.lower() for a in alts]) + r")(?!\w)")
        for topic, alts in lexicon.items()
    }


_PATTERNS = compile_lexicon()


def topic_matrix(sentences: pd.Series | ColumnMatcher) -> np.ndarray:
    """Boolean matrix (n_sentences x 13), column order = ``TOPICS``; one whole-column regex test per area.

    Takes the sentences, or a :class:`~.lexmatch.ColumnMatcher` already built over the *lower-cased* sentences
    (the lexicons are lower case) to share its Arrow column with other tests."""
    m = sentences if isinstance(sentences, ColumnMatcher) else ColumnMatcher(sentences.fillna("").astype(str).str.lower())
    if len(m.strings) == 0:
        return np.zeros((0, len(TOPICS)), dtype=bool)
    return np.column_stack([m.contains(_PATTERNS[t]) for t in TOPICS])
