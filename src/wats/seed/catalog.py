"""The demo marketplace: who signs in with which test phone, the shops, the category tree,
the fulfillment centers and about fifty products. Plain data; ``wats.seed`` creates it
through the APIs."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Every test phone signs in with this OTP on a local stack (wats.test_otp; never config.toml).
TEST_OTP = "123456"


@dataclass(frozen=True)
class Person:
    key: str
    phone: str
    full_name: str
    role: str  # customer | vendor | admin (vendors become vendors when approved)


PEOPLE = [
    Person("admin", "255700000001", "Neema Admin", "admin"),
    Person("amina", "255711000001", "Amina Juma", "customer"),
    Person("baraka", "255711000002", "Baraka Mwakyusa", "customer"),
    Person("chausiku", "255711000003", "Chausiku Said", "customer"),
    Person("kariakoo", "255722000001", "Juma Kariakoo", "vendor"),
    Person("zanzibar", "255722000002", "Mwanaisha Spice", "vendor"),
    Person("arusha", "255722000003", "Elirehema Kahawa", "vendor"),
    Person("mwanza", "255722000004", "Rehema Vitenge", "vendor"),
]


@dataclass(frozen=True)
class Center:
    code: str
    name: str
    region: str
    address: str


CENTERS = [
    Center("DAR", "Dar es Salaam Hub", "Dar es Salaam", "Nyerere Road, Ilala"),
    Center("ARU", "Arusha Hub", "Arusha", "Sokoine Road, Arusha CBD"),
    Center("MWZ", "Mwanza Hub", "Mwanza", "Kenyatta Road, Nyamagana"),
    Center("DOD", "Dodoma Hub", "Dodoma", "Jamhuri Street, Dodoma"),
]

#: (slug, name, parent slug)
CATEGORIES = [
    ("electronics", "Electronics", None),
    ("phones", "Phones", "electronics"),
    ("phone-accessories", "Phone accessories", "electronics"),
    ("solar-power", "Solar power", "electronics"),
    ("food", "Food & drink", None),
    ("spices", "Spices", "food"),
    ("coffee-tea", "Coffee & tea", "food"),
    ("fashion", "Fashion", None),
    ("kitenge-kanga", "Kitenge & kanga", "fashion"),
]


@dataclass(frozen=True)
class Product:
    title: str
    category: str
    price: int  # whole TZS
    description: str
    stock: dict[str, int] = field(default_factory=dict)  # center code -> on hand


@dataclass(frozen=True)
class Shop:
    owner: str  # Person.key
    name: str
    slug: str
    region: str
    description: str
    approved: bool
    payout_provider: str
    products: list[Product]


def _p(title: str, category: str, price: int, description: str, **stock: int) -> Product:
    return Product(title, category, price, description, stock)


SHOPS = [
    Shop(
        "kariakoo",
        "Kariakoo Electronics",
        "kariakoo-electronics",
        "Dar es Salaam",
        "Phones, chargers and solar kits from the heart of Kariakoo market.",
        True,
        "mpesa",
        [
            _p("Tecno Spark 20 (128 GB)", "phones", 385000, "6.6-inch screen, dual SIM, 5000 mAh.", DAR=12, MWZ=4),
            _p("Infinix Hot 40i", "phones", 329000, "Dual SIM, 128 GB, fast charging.", DAR=9, ARU=3),
            _p("Samsung Galaxy A15", "phones", 465000, "AMOLED screen, 128 GB.", DAR=6, DOD=2),
            _p("itel A70", "phones", 189000, "Everyday phone with a big battery.", DAR=20, MWZ=8, DOD=5),
            _p("Nokia 105 (2023)", "phones", 45000, "Feature phone with radio and torch.", DAR=40, ARU=15, MWZ=15),
            _p("Oraimo 20,000 mAh power bank", "phone-accessories", 65000, "Two USB ports, LED meter.", DAR=30, ARU=10),
            _p("Oraimo fast charger 18W", "phone-accessories", 25000, "USB-C cable included.", DAR=50),
            _p("Screen protector, tempered glass", "phone-accessories", 5000, "Fits 6.5-6.7 inch phones.", DAR=200),
            _p("Wireless earbuds", "phone-accessories", 55000, "Bluetooth 5.3, 24 h with case.", DAR=25, MWZ=5),
            _p("USB-C cable 1 m", "phone-accessories", 7000, "Braided, 3 A.", DAR=150, DOD=40),
            _p("Solar home kit 30W", "solar-power", 320000, "Panel, battery, 4 lamps, phone charging.", DAR=5, DOD=5),
            _p("Solar lantern", "solar-power", 35000, "Charges a phone too.", DAR=40, DOD=20, MWZ=20),
            _p("Solar panel 100W", "solar-power", 210000, "Monocrystalline, with mounting frame.", DAR=8),
            _p("Rechargeable torch", "solar-power", 18000, "LED, 8 hours per charge.", DAR=60, ARU=20),
            _p("Bluetooth speaker", "phone-accessories", 48000, "Waterproof, FM radio.", DAR=15, ARU=5),
            _p("Smart watch", "phone-accessories", 75000, "Steps, heart rate, calls.", DAR=10),
            _p("Phone case, silicone", "phone-accessories", 8000, "Assorted colours.", DAR=120),
            _p("Last one in stock: refurbished tablet", "phones", 250000, "8-inch Android tablet.", DAR=1),
        ],
    ),
    Shop(
        "zanzibar",
        "Zanzibar Spice House",
        "zanzibar-spice-house",
        "Zanzibar",
        "Cloves, cinnamon and pilau masala straight from Unguja's spice farms.",
        True,
        "airtel",
        [
            _p("Cloves, whole (250 g)", "spices", 12000, "Pemba cloves, hand picked.", DAR=80, ARU=20),
            _p("Cinnamon sticks (200 g)", "spices", 9000, "Zanzibar cinnamon bark.", DAR=60),
            _p("Black pepper (250 g)", "spices", 8500, "Whole peppercorns.", DAR=70, MWZ=10),
            _p("Pilau masala (200 g)", "spices", 6000, "Our house blend for pilau.", DAR=120, ARU=30, DOD=30),
            _p("Cardamom (100 g)", "spices", 11000, "Green pods.", DAR=40),
            _p("Nutmeg, whole (10 pieces)", "spices", 5000, "With mace.", DAR=50),
            _p("Turmeric powder (250 g)", "spices", 5500, "Bright and earthy.", DAR=90, MWZ=20),
            _p("Chilli flakes (150 g)", "spices", 4500, "Hot pilipili.", DAR=75),
            _p("Vanilla pods (5)", "spices", 25000, "Bourbon-type vanilla.", DAR=15),
            _p("Ginger powder (200 g)", "spices", 6000, "For chai and cooking.", DAR=60, ARU=15),
            _p("Curry powder (250 g)", "spices", 6500, "Mild Swahili curry.", DAR=80),
            _p("Spice gift box", "spices", 45000, "Eight spices in a woven basket.", DAR=20, ARU=5),
            _p("Lemongrass tea (100 g)", "coffee-tea", 7000, "Dried mchaichai.", DAR=40),
            _p("Masala chai mix (250 g)", "coffee-tea", 9500, "Tea with ginger, cardamom and cloves.", DAR=55),
            _p("Coconut oil (500 ml)", "spices", 12500, "Cold pressed.", DAR=35),
            _p("Tamarind paste (300 g)", "spices", 5000, "Ukwaju for sauces.", DAR=40),
        ],
    ),
    Shop(
        "arusha",
        "Arusha Coffee Roasters",
        "arusha-coffee-roasters",
        "Arusha",
        "Single-origin Arabica from the slopes of Mount Meru and Kilimanjaro.",
        True,
        "mixx",
        [
            _p("Kilimanjaro Arabica beans (500 g)", "coffee-tea", 28000, "Medium roast.", ARU=50, DAR=30),
            _p("Mount Meru peaberry (250 g)", "coffee-tea", 22000, "Bright, fruity peaberry.", ARU=40, DAR=10),
            _p("Espresso blend (1 kg)", "coffee-tea", 52000, "Dark roast for espresso.", ARU=25, DAR=15),
            _p("Ground coffee (250 g)", "coffee-tea", 14000, "Filter grind.", ARU=60, DAR=40, DOD=10),
            _p("Decaf Arabica (250 g)", "coffee-tea", 18000, "Swiss water process.", ARU=15),
            _p("Usambara black tea (500 g)", "coffee-tea", 9000, "Strong breakfast tea.", ARU=45, DAR=30),
            _p("Green tea (100 g)", "coffee-tea", 8000, "Loose leaf.", ARU=30),
            _p("French press (600 ml)", "coffee-tea", 38000, "Glass and steel.", ARU=12, DAR=8),
            _p("Coffee grinder, manual", "coffee-tea", 45000, "Ceramic burrs.", ARU=10),
            _p("Cold brew bags (4)", "coffee-tea", 12000, "Ready to steep.", ARU=35),
            _p("Coffee cherry tea (cascara)", "coffee-tea", 15000, "Dried coffee cherries.", ARU=20),
            _p("Tasting flight (3 x 100 g)", "coffee-tea", 30000, "Three origins to compare.", ARU=18, DAR=6),
        ],
    ),
    Shop(
        "mwanza",
        "Mwanza Textiles",
        "mwanza-textiles",
        "Mwanza",
        "Kitenge and kanga printed by the lake (waiting for approval).",
        False,
        "halopesa",
        [
            _p("Kitenge fabric, 6 yards", "kitenge-kanga", 35000, "Wax print, cotton.", MWZ=40),
            _p("Kanga pair with proverb", "kitenge-kanga", 18000, "Two matching kangas.", MWZ=60),
            _p("Kitenge shirt", "kitenge-kanga", 42000, "Tailored, sizes S-XXL.", MWZ=25),
            _p("Kikoi beach wrap", "kitenge-kanga", 22000, "Striped cotton kikoi.", MWZ=30),
            _p("Tote bag, kitenge", "kitenge-kanga", 15000, "Lined, with pocket.", MWZ=50),
        ],
    ),
]
