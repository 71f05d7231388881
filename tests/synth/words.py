"""Embedded vocabulary for :mod:`tests.synth`, and its pre-rendered token table.

Kept apart from the generator so the logic stays readable. Every list here was written for this
project; none is copied from a corpus. The common words are in rough frequency order because the
generator draws them with a Zipf law over their rank: a realistic head ("the", "of", "and") is what
makes shingle statistics of synthetic pages resemble real web text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# Token forms: an optional opening quote, the word (capitalised at a sentence start or not), and
# what follows it. A token's code is ((word * 2 + prefix) * 2 + capital) * len(SUFFIXES) + suffix.
PREFIXES = ("", '"')
SUFFIXES = ("", ".", ",", "?", "!", ":", ";", " -", '."', "...")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COMMON = """
the of and to a in is that for it was on with as be at by this are have from or an
but not they his her we you their were has had been which one all will there can more
when who so if would about what out up also its our into than them other some time
only new just these over people two after first like most then could many may any
year way because well even much each made such said where back both those through
being how before now own still here while day should three might last under work make
did very same part between life long another world while great little good every know
take around against never since right found high however without during place end
again few home down old large public often small city next few local group second
state number often already best whole less near until less early later point four
used set week hand far among family yet within school both across want along toward
it's don't isn't we're they're can't that's you'll won't there's didn't doesn't
report plan team area issue case need change part side level order month start close
help show turn keep move live believe bring happen write provide sit stand lose pay
meet include continue learn lead understand watch follow stop create speak read allow
add spend grow open walk win offer remember consider appear buy wait serve die send
expect build stay fall cut reach kill remain suggest raise pass sell require decide
rather often perhaps quite almost enough simply really likely clearly recent major
free full whole real sure strong hard clear certain possible political social human
local national general special central private common simple recent current modern
"""

# Twenty topics with thirty words each. Hyphenated compounds are deliberate: they give the
# format variants hyphens to turn into Unicode dashes.
TOPICS: dict[str, str] = {
    "health": """patients clinic doctor therapy symptoms treatment nurse hospital diagnosis
        vaccine recovery dose trial immune chronic blood surgery wellbeing diet sleep anxiety
        infection screening prescription cardiac long-term physio outbreak pharmacy fatigue""",
    "finance": """bank interest rates inflation loan mortgage investors shares bond pension
        budget deficit savings credit lender dividend portfolio equity fund tax quarter
        earnings revenue audit broker low-cost currency fintech liquidity yield""",
    "sport": """match league season coach striker goal penalty referee stadium fans tournament
        final injury squad captain defender midfield transfer victory draw trophy halftime
        sprint marathon athletes relay record-breaking podium racket wicket""",
    "technology": """software laptop battery chip server cloud network update startup app
        browser encryption firmware sensor robot algorithm dataset developer open-source code
        bandwidth smartphone processor storage upgrade latency router plugin terminal backup""",
    "travel": """flight airport hotel passport luggage itinerary ferry beach resort hostel
        cruise visa tourists guidebook destination backpack sightseeing check-in terminal
        airline booking suitcase coastline island souvenir layover railway museum trek lodge""",
    "food": """recipe flour butter oven kitchen garlic onion pastry sauce spices simmer bake
        dough vinegar roast salad noodles broth seasoning chef menu dessert grill olive
        lemon pepper skillet stir-fry fillet crumble""",
    "gardening": """soil compost seeds seedlings pruning roses tomatoes greenhouse mulch
        watering bulbs hedge shrubs weeds fertiliser perennials shovel trowel raised-bed
        harvest orchard blossom pests aphids lawn allotment cuttings trellis hose sapling""",
    "education": """students teacher classroom exam curriculum pupils homework lecture degree
        tuition campus semester grades scholarship syllabus tutor literacy enrolment
        graduates textbook headteacher assessment kindergarten part-time faculty thesis
        seminar diploma coursework library""",
    "politics": """minister parliament election voters campaign policy council senator
        coalition ballot referendum candidate governor opposition cabinet legislation
        mayor reform debate spokesperson poll constituency treaty manifesto turnout
        lawmakers caucus bill veto cross-party""",
    "science": """researchers laboratory experiment hypothesis molecules cells genome
        protein particle microscope physics chemistry enzyme specimen data peer-reviewed
        journal sample fossil species evolution telescope reaction compound isotope
        bacteria samples theory measurement catalyst""",
    "music": """album guitar band singer concert lyrics chorus drummer festival vinyl track
        melody studio tour bassist orchestra violin piano chord rhythm playlist encore
        producer label acoustic single songwriter gig setlist hip-hop""",
    "film": """director cinema actor actress premiere screenplay sequel trailer studio
        box-office cast scene camera editing documentary festival script producer audience
        critics streaming release animation franchise soundtrack villain plot remake
        cinematography reviewer""",
    "cars": """engine mileage dealership hybrid electric gearbox tyres brakes motorway
        sedan hatchback fuel emissions horsepower chassis mechanic warranty dashboard
        steering clutch exhaust charging four-wheel insurance garage diesel bumper
        windscreen suspension torque""",
    "housing": """rent tenants landlord apartment flat estate mortgage bedroom kitchen
        renovation lease deposit neighbourhood property developer planning council
        affordable housing loft basement insulation buyers listing agent freehold
        semi-detached bungalow valuation viewing""",
    "fashion": """designer runway collection fabric cotton denim boutique tailoring
        stitching leather handbag trainers jacket dress silk wardrobe couture label
        seasonal trend sustainable vintage knitwear accessories catwalk hemline pattern
        ready-to-wear stylist sneakers""",
    "gaming": """console players level quest multiplayer controller patch developer
        gameplay graphics character boss inventory server esports tournament headset
        leaderboard sandbox speedrun open-world mod dungeon loot respawn studio expansion
        checkpoint arcade difficulty""",
    "environment": """climate emissions carbon forest wildlife rivers pollution recycling
        renewable solar wind drought flooding biodiversity habitat conservation wetlands
        glacier ocean plastic deforestation net-zero species coral rainfall heatwave
        ecosystem landfill sediment estuary""",
    "law": """court judge lawyer trial verdict appeal jury defendant prosecutor evidence
        witness sentence contract lawsuit ruling statute plaintiff settlement barrister
        solicitor tribunal bail custody testimony counsel liability hearing cross-examination
        injunction precedent""",
    "pets": """dog cat puppy kitten vet leash breed grooming kennel adoption shelter
        training treats collar litter aquarium hamster parrot rabbit vaccination fleas
        walks paws tail obedience microchip well-behaved rescue feeder tortoise""",
    "space": """rocket launch orbit satellite astronaut mission moon planet probe
        telescope asteroid comet galaxy lander spacecraft payload booster crater nebula
        gravity cosmic eclipse rover station solar-powered meteor capsule module
        countdown trajectory""",
}

FIRST_NAMES = _words("""Amara Bilal Chloe Dmitri Elena Farid Grace Hiroshi Ines Jonah Keira Lars
    Maya Nikhil Olga Priya Quentin Rosa Samir Tamsin Umar Vera Wendell Ximena Yusuf Zoe Aldo Bea
    Cormac Dalia Emeka Fern Gideon Hana Ivo Jude Kofi Lena Marco Nadia""")

LAST_NAMES = _words("""Abara Brennan Castillo Dubois Eriksen Fairweather Gallo Halvorsen Ibekwe
    Jankowski Kowal Lindqvist Mbeki Novak Oyelaran Petrov Quiroga Rinaldi Sandoval Tanaka
    Udeh Varga Whitcombe Xu Yilmaz Zeller Ashby Blackwood Carver Draper Ellison Foley Grady
    Hollis Iwu Jessop Kerrigan Lowry Marsh Nolan""")

PLACES = _words("""Ashford Brackenridge Coldwater Dunmore Elmstead Fenwick Glenholm Harrowgate
    Ivybridge Juniper Kestrel Larchmont Millbrook Northfield Oakhaven Pembrook Quarry Redcliff
    Silverdale Thornbury Underhill Valewood Westmere Yarrow""")

OUTLETS = _words("""Gazette Herald Chronicle Courier Observer Post Times Review Dispatch Journal
    Daily Bulletin""")

MONTHS = _words("""January February March April May June July August September October November
    December""")

NAV_ITEMS = _words("""Home News Sport Business Opinion Culture Travel Weather Video Contact About
    Podcasts Science Health Money Events""")

COOKIE_NOTICES = (
    "We use cookies to improve your experience. Accept all",
    "This site uses cookies. By continuing you agree to our policy.",
    "Cookies help us deliver our services. Learn more | Accept",
    "We and our partners use cookies for analytics. Manage settings",
)

# Title patterns for articles; {t} and {u} are topic words, {p} a place, {n} a small number.
TITLE_PATTERNS = (
    "How {t} is changing {u} in {p}",
    "{N} on the future of {t}",
    "Why {t} and {u} matter more than ever",
    "{n} things to know about {t}",
    "The hidden cost of {t} in {p}",
    "What the new {t} report says about {u}",
    "Inside the {t} debate in {p}",
    "A beginner's guide to {t} and {u}",
    "{P} plans new rules on {t}",
    "Is {t} worth it? {N} weighs in",
    "{N} explains the rise of {t}",
    "Five years of {t}: lessons from {p}",
)

# Search-query style titles, the kind that scraped pages stack into long comma-separated lists.
QUERY_PATTERNS = (
    "How To Fix A {T}",
    "Best {T} For {U}",
    "{T} Near Me",
    "{n} Bed Flat {P} {T} Included",
    "{T} Price List {y}",
    "How To Draw A {T} Step By Step",
    "Cheap {T} {P}",
    "{T} Vs {U}",
    "What Is {T} Used For",
    "{P} {T} Opening Hours",
    "{T} Manual Pdf",
    "Can You Freeze {T}",
)

# Small character inventories for the multilingual paragraphs (about 1% of pages).
HANZI = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学"
    "对可里后小心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同"
)
HIRAGANA = (
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
)
KANJI_JA = "日本人大学生時間先生会社電車天気映画音楽料理旅行今年東京駅前新聞友達"
THAI_CONSONANTS = "กขคงจฉชซดตถทนบปผพฟมยรลวสหอ"
THAI_VOWELS = ("า", "ิ", "ี", "ุ", "ู", "ั", "ำ", "")
ACCENTED = _words("""café naïve résumé über mañana déjà façade crème brûlée São Zürich Kraków Málaga
    piñata jalapeño fiancée señora Øresund smörgåsbord Ærø garçon Ångström Tromsø Besançon
    Mölln Düsseldorf coöperate élan Peñalver Göteborg""")


@dataclass(frozen=True)
class Vocab:
    """Every drawable token, with each (prefix, capital, suffix) form pre-rendered."""

    common: tuple[str, ...]
    topics: tuple[tuple[str, ...], ...]
    topic_base: int
    special_base: int
    n_special: int
    common_cdf: np.ndarray
    topic_cdf: np.ndarray
    forms: np.ndarray  # object array of str, indexed by token code (see SUFFIXES)
    form_len: np.ndarray


def cap(word: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case the rest)."""
    return word[:1].upper() + word[1:]


def _zipf_cdf(n: int, shift: float) -> np.ndarray:
    """Zipf-Mandelbrot law p(r) ~ 1/(r + shift): a few words dominate, as in real text."""
    p = 1.0 / (np.arange(1, n + 1) + shift)
    return np.cumsum(p / p.sum())


@functools.lru_cache(maxsize=1)
def vocab() -> Vocab:
    """Built once per process: about 2,000 tokens x 40 forms, a few milliseconds."""
    common = tuple(dict.fromkeys(COMMON.split()))
    topics = tuple(tuple(dict.fromkeys(t.split()))[:30] for t in TOPICS.values())
    fixed = np.random.default_rng(20240611)  # specials are constants, not part of a corpus seed
    numbers = [f"{x:,}" for x in fixed.integers(11, 99_999, 160)]
    numbers += [f"{x}%" for x in fixed.integers(2, 99, 60)] + [f"${x}" for x in range(5, 500, 9)]
    numbers += [f"{x / 10:.1f}" for x in fixed.integers(11, 999, 60)]
    days, years = (3, 9, 14, 21, 28), (2019, 2022)
    dates = [f"{m} {d}, {y}" for m in MONTHS for d in days for y in years]
    dates += [f"{d} {m} {y}" for m in MONTHS for d in (1, 17) for y in (2020, 2023, 2024)]
    names = [f"{f} {ln}" for f in FIRST_NAMES for ln in LAST_NAMES[::3]]
    specials = numbers + dates + names
    tokens = list(common) + [w for t in topics for w in t] + specials
    forms = [
        p + (cap(w) if c else w) + s
        for w in tokens
        for p in PREFIXES
        for c in (0, 1)
        for s in SUFFIXES
    ]
    return Vocab(
        common=common,
        topics=topics,
        topic_base=len(common),
        special_base=len(tokens) - len(specials),
        n_special=len(specials),
        common_cdf=_zipf_cdf(len(common), 2.7),
        topic_cdf=_zipf_cdf(30, 1.0),
        forms=np.array(forms, dtype=object),
        form_len=np.array([len(f) for f in forms]),
    )
