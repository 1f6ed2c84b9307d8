"""What the demo shop sells: categories, brands, product types with price ranges, tags,
search queries and which types are bought together. Pure data, used by ``load_demo_data``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CategorySpec:
    slug: str
    name: str
    colour: str
    description: str
    brands: tuple[str, ...]
    # How many shoppers count this among their favourites (relative).
    appeal: float
    queries: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    key: str
    category: str
    label: str
    price: tuple[int, int]
    count: int
    tags: tuple[str, ...]
    models: tuple[str, ...]
    blurb: str
    # Types that are often bought with this one (the first is the strongest).
    complements: tuple[str, ...] = field(default_factory=tuple)
    # Books and the like have their own title pattern and no brand-model naming.
    titles: tuple[str, ...] = field(default_factory=tuple)


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("cameras", "Cameras & Photo", "#2563eb", "Mirrorless and compact cameras, lenses and everything around them.",
                 ("Lumora", "Aperix", "Kestrel Optics", "Nordlys"), 1.0,
                 ("mirrorless camera", "camera", "memory card", "sd card 128gb", "50mm lens", "tripod", "camera bag", "compact camera", "zoom lens")),
    CategorySpec("audio", "Audio", "#7c3aed", "Headphones, speakers and turntables for every room.",
                 ("Sonance", "Hallberg", "Echofield", "Pulse Audio"), 1.1,
                 ("headphones", "noise cancelling headphones", "earbuds", "bluetooth speaker", "turntable", "wireless earbuds")),
    CategorySpec("coffee", "Coffee & Kitchen", "#b45309", "Espresso machines, grinders and freshly roasted beans.",
                 ("Crema", "Moka Lab", "Roastery 17", "Barista & Co"), 1.0,
                 ("espresso machine", "coffee beans", "grinder", "coffee grinder", "milk frother", "kettle", "espresso")),
    CategorySpec("running", "Running & Fitness", "#059669", "Shoes, watches and gear for your next run.",
                 ("Stride", "Fleetfoot", "Peakform", "Tempo"), 1.0,
                 ("running shoes", "trail shoes", "gps watch", "running socks", "yoga mat", "running jacket", "water bottle")),
    CategorySpec("outdoor", "Outdoor & Camping", "#0f766e", "Tents, sleeping bags and backpacks for nights outside.",
                 ("Trailhead", "Northpine", "Summit Gear", "Fjellby"), 0.8,
                 ("tent", "2 person tent", "sleeping bag", "hiking backpack", "headlamp", "camping stove", "trekking poles")),
    CategorySpec("books", "Books", "#dc2626", "Novels, cookbooks and guides to take you somewhere new.",
                 ("Paperlane Press", "Inkwell Books", "Atlas House"), 0.9,
                 ("novel", "cookbook", "photography book", "travel guide", "trail guide", "book")),
    CategorySpec("home", "Home & Living", "#db2777", "Lamps, candles and throws that make a home.",
                 ("Hygge Home", "Lumen & Oak", "Casa Verde"), 0.9,
                 ("lamp", "reading lamp", "candle", "scented candle", "throw blanket", "plant pot", "picture frame")),
    CategorySpec("games", "Toys & Games", "#ea580c", "Board games, puzzles and building kits for long evenings.",
                 ("Meeple Works", "Tabletop Co", "Brickhaus"), 0.7,
                 ("board game", "family board game", "puzzle", "1000 piece puzzle", "card game", "building kit", "dice")),
)

SERIES = ("Aero", "Nova", "Terra", "Vista", "Pro", "Air", "Max", "Lite", "One", "Studio", "Flex", "Core", "Edge", "Zen")

TYPES: tuple[TypeSpec, ...] = (
    # cameras
    TypeSpec("camera", "cameras", "Mirrorless Camera", (450, 1900), 8, ("camera", "mirrorless", "4k video", "photo"),
             ("Z{n}", "X-{n}", "Alpha {n}", "M{n} Mark II"), "A {adj} mirrorless body with a {mp} MP sensor and in-body stabilisation.",
             ("memory_card", "lens", "camera_bag", "tripod", "photo_book")),
    TypeSpec("compact", "cameras", "Compact Camera", (180, 650), 6, ("camera", "compact", "travel", "photo"),
             ("C{n}", "Pocket {n}", "Go {n}"), "A {adj} pocket camera with a bright zoom lens, ready for travel.",
             ("memory_card", "camera_bag")),
    TypeSpec("lens", "cameras", "Lens", (150, 1300), 8, ("lens", "photo"),
             ("35mm f/1.8", "50mm f/1.4", "85mm f/1.8", "24-70mm f/2.8", "16-35mm f/4", "70-200mm f/4", "18-55mm"), "A {adj} {model} lens: sharp from corner to corner.",
             ("tripod", "camera_bag")),
    TypeSpec("memory_card", "cameras", "Memory Card", (12, 85), 6, ("memory card", "sd card", "storage", "photo"),
             ("64GB SDXC", "128GB SDXC", "256GB SDXC", "128GB microSD", "512GB SDXC"), "Fast {model} storage for 4K video and long bursts.", ()),
    TypeSpec("tripod", "cameras", "Tripod", (30, 260), 4, ("tripod", "photo", "travel"),
             ("Travel", "Carbon", "Mini", "Studio"), "A {adj} {model} tripod that packs small and stands steady.", ()),
    TypeSpec("camera_bag", "cameras", "Camera Bag", (35, 170), 4, ("bag", "camera", "travel"),
             ("Sling", "Backpack", "Messenger", "Roll-top"), "A {adj} {model} bag with padded dividers for a body and two lenses.", ()),
    # audio
    TypeSpec("headphones", "audio", "Wireless Headphones", (60, 420), 8, ("headphones", "wireless", "noise cancelling", "bluetooth"),
             ("{s} {n}", "{s} ANC", "{s} Studio"), "{adj} over-ear headphones with active noise cancelling and 30-hour battery.",
             ("headphone_case", "audio_cable")),
    TypeSpec("earbuds", "audio", "Earbuds", (30, 260), 7, ("earbuds", "wireless", "bluetooth", "sport"),
             ("{s} {n}", "{s} Pro", "{s} Fit"), "{adj} true-wireless earbuds that stay put on a run.", ("headphone_case",)),
    TypeSpec("speaker", "audio", "Bluetooth Speaker", (35, 320), 7, ("speaker", "bluetooth", "portable", "waterproof"),
             ("{s} Go", "{s} Boom", "{s} Home"), "A {adj} portable speaker, waterproof and loud enough for the garden.", ("audio_cable",)),
    TypeSpec("turntable", "audio", "Turntable", (150, 650), 4, ("turntable", "vinyl", "hi-fi"),
             ("T{n}", "Classic {n}"), "A {adj} belt-drive turntable with a built-in phono preamp.", ("audio_cable", "speaker")),
    TypeSpec("headphone_case", "audio", "Headphone Case", (10, 32), 4, ("case", "headphones", "travel"),
             ("Hard Shell", "Soft", "Travel"), "A {adj} {model} case that protects your headphones on the go.", ()),
    TypeSpec("audio_cable", "audio", "Audio Cable", (8, 28), 4, ("cable", "audio", "hi-fi"),
             ("RCA 1.5m", "3.5mm 2m", "Optical 2m", "Braided 1m"), "A {adj} {model} cable with gold-plated connectors.", ()),
    # coffee
    TypeSpec("espresso", "coffee", "Espresso Machine", (180, 950), 7, ("espresso", "coffee machine", "barista"),
             ("{s} {n}", "{s} Dual", "{s} Barista"), "A {adj} espresso machine with a 58 mm portafilter and steam wand.",
             ("beans", "grinder", "frother", "mugs")),
    TypeSpec("grinder", "coffee", "Coffee Grinder", (40, 360), 6, ("grinder", "coffee", "burr grinder"),
             ("{s} Burr", "{s} Hand", "{s} 64"), "A {adj} burr grinder with 40 settings, from espresso to French press.", ("beans",)),
    TypeSpec("beans", "coffee", "Coffee Beans", (8, 28), 10, ("coffee beans", "coffee", "espresso", "single origin"),
             ("Ethiopia Yirgacheffe", "Colombia Huila", "Brazil Cerrado", "Kenya AA", "House Espresso Blend", "Guatemala Antigua", "Sumatra Mandheling", "Decaf Swiss Water", "Rwanda Nyamasheke", "Costa Rica Tarrazu"),
             "Freshly roasted {model}, 1 kg: {adj} and sweet.", ()),
    TypeSpec("frother", "coffee", "Milk Frother", (25, 130), 4, ("milk frother", "coffee", "latte"),
             ("{s} Foam", "{s} Whisk"), "A {adj} frother for silky milk foam in a minute.", ()),
    TypeSpec("kettle", "coffee", "Pour-Over Kettle", (30, 130), 4, ("kettle", "pour-over", "coffee", "tea"),
             ("{s} Gooseneck", "{s} Temp"), "A {adj} gooseneck kettle with temperature control.", ("beans", "mugs")),
    TypeSpec("mugs", "coffee", "Ceramic Mugs", (15, 48), 5, ("mug", "ceramic", "gift"),
             ("Set of 2", "Set of 4", "Stackable Set of 6"), "{adj} ceramic mugs ({model}) in hand-glazed stoneware.", ()),
    # running
    TypeSpec("shoes", "running", "Running Shoes", (70, 210), 9, ("running shoes", "running", "shoes"),
             ("{s} Road {n}", "{s} Trail {n}", "{s} Race"), "{adj} running shoes with a responsive foam midsole.",
             ("socks", "bottle")),
    TypeSpec("socks", "running", "Running Socks", (8, 22), 5, ("socks", "running"),
             ("Merino", "Light", "Trail", "Compression"), "{adj} {model} socks that keep blisters away.", ()),
    TypeSpec("watch", "running", "GPS Watch", (120, 620), 6, ("gps watch", "watch", "running", "fitness tracker"),
             ("{s} {n}", "{s} Trail", "{s} Pro"), "A {adj} GPS watch with heart-rate, maps and 10-day battery.", ("shoes", "bottle")),
    TypeSpec("bottle", "running", "Water Bottle", (10, 36), 5, ("bottle", "hydration", "outdoor"),
             ("500 ml", "750 ml", "Insulated 1 l", "Soft Flask"), "A {adj} {model} bottle that never leaks.", ()),
    TypeSpec("yoga", "running", "Yoga Mat", (20, 95), 5, ("yoga mat", "yoga", "fitness"),
             ("4 mm", "6 mm", "Travel", "Cork"), "A {adj} {model} mat with a grippy surface.", ()),
    TypeSpec("jacket", "running", "Running Jacket", (50, 190), 5, ("jacket", "running", "waterproof"),
             ("Wind", "Rain", "Thermal"), "A {adj} {model} jacket that packs into its own pocket.", ("bottle",)),
    # outdoor
    TypeSpec("tent", "outdoor", "Tent", (90, 620), 7, ("tent", "camping", "outdoor"),
             ("2-Person", "3-Person", "Ultralight 1-Person", "Family 4-Person"), "A {adj} {model} tent, up in five minutes.",
             ("sleeping_bag", "headlamp", "stove", "trail_book")),
    TypeSpec("sleeping_bag", "outdoor", "Sleeping Bag", (50, 360), 6, ("sleeping bag", "camping", "outdoor"),
             ("Summer", "3-Season", "Down -5°C", "Synthetic"), "A {adj} {model} sleeping bag with a warm hood.", ("headlamp",)),
    TypeSpec("backpack", "outdoor", "Hiking Backpack", (60, 290), 7, ("backpack", "hiking", "outdoor"),
             ("28 l", "38 l", "50 l", "65 l"), "A {adj} {model} pack with an adjustable back system.", ("bottle", "poles")),
    TypeSpec("headlamp", "outdoor", "Headlamp", (15, 85), 5, ("headlamp", "camping", "running"),
             ("300 lm", "500 lm", "900 lm Rechargeable"), "A {adj} {model} headlamp with a red night mode.", ()),
    TypeSpec("stove", "outdoor", "Camping Stove", (30, 160), 4, ("stove", "camping", "cooking"),
             ("Micro", "Pocket", "Two-Burner"), "A {adj} {model} stove that boils a litre in three minutes.", ()),
    TypeSpec("poles", "outdoor", "Trekking Poles", (30, 145), 4, ("trekking poles", "hiking"),
             ("Carbon", "Aluminium", "Folding"), "{adj} {model} poles that save your knees on the way down.", ()),
    # books
    TypeSpec("novel", "books", "Novel", (9, 26), 12, ("book", "novel", "fiction"), (), "A {adj} novel readers could not put down.",
             ("reading_lamp",), ("The Quiet Harbour", "Salt and Ember", "A Year of Small Lights", "The Cartographer's Daughter", "Northern Trains",
                                 "What the River Knew", "The Glass Orchard", "Midnight at the Observatory", "Letters from Lisbon", "The Last Lighthouse Keeper",
                                 "Winter in Kraków", "An Island Called Home", "The Paper Garden", "Seven Bridges")),
    TypeSpec("cookbook", "books", "Cookbook", (18, 46), 6, ("book", "cookbook", "cooking"), (), "A {adj} cookbook with 120 recipes for every day.",
             (), ("Slow Sundays", "The Espresso Book", "One Pan Dinners", "Bread at Home", "Istanbul Kitchen", "Plants on a Plate", "Coffee Desserts")),
    TypeSpec("photo_book", "books", "Photography Guide", (20, 52), 5, ("book", "photography", "guide"), (), "A {adj} guide to light, composition and your camera's settings.",
             (), ("Mastering Light", "The Street Photographer", "Better Travel Photos", "Night Photography", "Portraits in Natural Light", "Seeing in Black and White")),
    TypeSpec("trail_book", "books", "Travel Guide", (12, 32), 6, ("book", "travel", "hiking", "guide"), (), "A {adj} guide with maps and 40 routes.",
             (), ("Walks in the Alps", "Wild Camping in Europe", "Balkan Trails", "The Portuguese Coast", "Hidden Java", "Dutch Cycle Routes", "Tatra Mountains")),
    # home
    TypeSpec("table_lamp", "home", "Table Lamp", (30, 210), 6, ("lamp", "lighting", "home"),
             ("Opal", "Brass", "Mushroom", "Arc"), "A {adj} {model} lamp with a warm, dimmable light.", ("candle",)),
    TypeSpec("reading_lamp", "home", "Reading Lamp", (25, 150), 5, ("lamp", "reading", "lighting"),
             ("Clip-on", "Floor", "Desk"), "A {adj} {model} reading lamp that is kind to your eyes.", ()),
    TypeSpec("candle", "home", "Scented Candle", (10, 42), 8, ("candle", "scented", "gift", "home"),
             ("Fig & Cedar", "Sea Salt", "Amber", "Fresh Linen", "Coffee & Vanilla", "Pine Forest", "Rose Garden"), "A {adj} {model} candle that burns for 45 hours.", ()),
    TypeSpec("throw", "home", "Throw Blanket", (30, 125), 5, ("blanket", "throw", "home", "wool"),
             ("Wool", "Cotton Waffle", "Chunky Knit"), "A {adj} {model} throw for the sofa.", ("candle",)),
    TypeSpec("plant_pot", "home", "Plant Pot", (12, 60), 5, ("plant pot", "plants", "home"),
             ("Terracotta", "Glazed", "Hanging"), "A {adj} {model} pot with a drainage saucer.", ()),
    TypeSpec("frame", "home", "Picture Frame", (10, 52), 4, ("frame", "photo", "home", "gift"),
             ("A4 Oak", "Gallery Set", "Brass 13x18"), "A {adj} {model} frame for the photos you love.", ()),
    # games
    TypeSpec("board_game", "games", "Board Game", (20, 75), 10, ("board game", "family", "strategy", "games"), (), "A {adj} game for 2-5 players, 45 minutes.",
             ("dice", "card_game"), ("Harbour Lords", "Tiny Kingdoms", "Railway Barons", "Star Gardens", "Lighthouse Keepers", "Spice Route", "The Great Bake",
                                     "Mountain Rescue", "Owl Post", "Coral Reef", "Castle Builders", "Night Market")),
    TypeSpec("puzzle", "games", "Jigsaw Puzzle", (12, 36), 7, ("puzzle", "jigsaw", "family"), (), "A {adj} 1000-piece puzzle.",
             ("candle",), ("Lisbon Rooftops", "Alpine Lake", "Library of Dreams", "Tulip Fields", "Istanbul Bazaar", "Night Sky", "Coffee Shop")),
    TypeSpec("card_game", "games", "Card Game", (8, 26), 5, ("card game", "party", "games"), (), "A {adj} card game that fits in a pocket.",
             (), ("Quick Foxes", "Sushi Race", "Lost Cities", "Monkey Business", "Pirate Parley")),
    TypeSpec("kit", "games", "Building Kit", (25, 160), 5, ("building kit", "construction", "kids"),
             ("Harbour Crane", "Space Station", "Vintage Car", "Tree House"), "A {adj} {model} kit with 800 pieces.", ()),
    TypeSpec("dice", "games", "Dice Set", (8, 22), 3, ("dice", "games", "rpg"), ("Metal", "Resin", "Wooden"), "A {adj} {model} dice set in a velvet pouch.", ()),
)

ADJECTIVES = ("compact", "beautifully made", "reliable", "lightweight", "best-selling", "award-winning", "versatile", "elegant", "rugged", "clever")

# Shoppers type these too, even though nothing matches (realistic noise for search suggestions).
NO_RESULT_QUERIES = ("drone", "gift card", "iphone case", "vacuum", "lego star wars")

COUNTRIES = (("NL", "nl", 18), ("PL", "pl", 14), ("RS", "sr", 8), ("ID", "id", 12), ("TR", "tr", 10), ("PT", "pt", 10),
             ("DE", "en", 10), ("GB", "en", 10), ("US", "en", 8))
DEVICES = (("desktop", 52), ("mobile", 40), ("tablet", 8))

# Named demo accounts (password "demo"): their tastes are fixed so the demo tells a story.
DEMO_USERS = (
    {"username": "alice", "first_name": "Alice", "email": "alice@demo.example", "favourites": ("cameras", "books"), "price": 0.8, "language": "en", "country": "GB"},
    {"username": "bob", "first_name": "Bob", "email": "bob@demo.example", "favourites": ("running", "outdoor"), "price": 0.5, "language": "nl", "country": "NL"},
    {"username": "carol", "first_name": "Carol", "email": "carol@demo.example", "favourites": ("coffee", "home"), "price": 0.25, "language": "pl", "country": "PL"},
)

FIRST_NAMES = ("Ana", "Bram", "Chloé", "Daan", "Emre", "Fatma", "Gosia", "Hugo", "Ines", "Jan", "Kasia", "Lars", "Marta", "Nikola", "Olga",
               "Pedro", "Rina", "Sanne", "Tomasz", "Umut", "Vera", "Wayan", "Yusuf", "Zeynep", "Dewi", "Milan", "Joana", "Sofia", "Lucas", "Noor")
