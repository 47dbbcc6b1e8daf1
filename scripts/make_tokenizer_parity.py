#!/usr/bin/env python3
"""Write tests/fixtures/tokenizer_parity.tsv: prompts and the token ids OpenAI's CLIP tokenizer
gives them (clip.tokenize(text, context_length=77, truncate=True)).

This is an independent Python reference implementation written from the published algorithm
(OpenAI CLIP's simple_tokenizer: ftfy.fix_text, html.unescape twice, whitespace clean,
lower(), the pre-tokeniser regex, byte-level BPE). It uses Python's own machinery wherever the
original does — html.unescape, str.lower, str.strip, unicodedata.normalize and the `regex`
module — so it shares no tables or code with the C++ implementation it checks.

ftfy is not packaged by Debian, so the ftfy.fix_text steps are re-implemented here exactly as
ftfy 6.x defines them, except for its mojibake detection (fix_encoding and its helpers
restore_byte_a0 / replace_lossy_sequences / decode_inconsistent_utf8), which neither this
reference nor skiptune implements. docs/tokenizer.md lists the difference.

Run with Debian's Python and python3-regex (apt-get install python3-regex):
    /usr/bin/python3 scripts/make_tokenizer_parity.py
It reads the vocabulary from ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz (never copied
into the repo) and writes one line per case:
    hex of the UTF-8 input bytes <TAB> untruncated token count <TAB> ids up to and including
    <|endoftext|> (space separated) <TAB> a short readable description
"""
import argparse
import gzip
import html
import html.entities
import os
import random
import re as std_re
import sys
import unicodedata

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_VOCAB = os.path.join(REPO, "..", "shared", "data", "clip", "bpe_simple_vocab_16e6.txt.gz")
CONTEXT_LENGTH = 77
MERGES_USED = 49152 - 256 - 2  # 48,894


# ============================================================================ ftfy 6 subset
# The fixes ftfy.fix_text runs by default, in its order, minus fix_encoding (mojibake).
def _ftfy_entity_table():
    table = {}
    for name, value in html.entities.html5.items():
        if not name.endswith(";"):
            continue
        table["&" + name] = value
        if name == name.lower():
            shouted = "&" + name.upper()
            if html.unescape(shouted) == shouted:
                table[shouted] = value.upper()
    return table


FTFY_ENTITIES = _ftfy_entity_table()
FTFY_ENTITY_RE = std_re.compile(r"&#?[0-9A-Za-z]{1,24};")
ANSI_ESCAPE_RE = std_re.compile("\033\\[((?:\\d|;)*)([a-zA-Z])")
SINGLE_QUOTES_RE = std_re.compile("[\u02bc\u2018-\u201b]")
DOUBLE_QUOTES_RE = std_re.compile("[\u201c-\u201f]")
C1_RE = std_re.compile("[\x80-\x9f]")
LATIN_LIGATURES = {
    0x132: "IJ", 0x133: "ij", 0x149: "\u02bcn", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz",
    0x1C4: "D\u017d", 0x1C5: "D\u017e", 0x1C6: "d\u017e", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj",
    0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl",
    0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u017ft", 0xFB06: "st",
}
WIDTH = {0x3000: " "}
for _cp in range(0xFF01, 0xFFF0):
    _alt = unicodedata.normalize("NFKC", chr(_cp))
    if _alt != chr(_cp):
        WIDTH[_cp] = _alt
CONTROL_CHARS = dict.fromkeys(
    list(range(0x00, 0x09)) + [0x0B] + list(range(0x0E, 0x20)) + [0x7F]
    + list(range(0x206A, 0x2070)) + [0xFEFF] + list(range(0xFFF9, 0xFFFD)))


def ftfy_unescape_html(text):
    def replace(match):
        entity = match.group(0)
        if entity in FTFY_ENTITIES:
            return FTFY_ENTITIES[entity]
        if entity.startswith("&#"):
            decoded = html.unescape(entity)
            return entity if ";" in decoded else decoded
        return entity
    return FTFY_ENTITY_RE.sub(replace, text)


def c1_as_windows_1252(match):
    byte = match.group(0).encode("latin-1")
    try:
        return byte.decode("windows-1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: "sloppy" codec keeps them
        return match.group(0)


def fix_segment(text, unescape):
    while True:
        before = text
        if unescape:
            text = ftfy_unescape_html(text)
        text = C1_RE.sub(c1_as_windows_1252, text)
        text = text.translate(LATIN_LIGATURES)
        text = text.translate(WIDTH)
        text = SINGLE_QUOTES_RE.sub("'", DOUBLE_QUOTES_RE.sub('"', text))
        text = (text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
                .replace("\u2029", "\n").replace("\u0085", "\n"))
        # fix_surrogates: str from UTF-8 never holds surrogates
        text = ANSI_ESCAPE_RE.sub("", text)
        text = text.translate(CONTROL_CHARS)
        text = unicodedata.normalize("NFC", text)
        if text == before:
            return text


def ftfy_fix_text(text, max_decode_length=1_000_000):
    pieces = []
    unescape = True  # "auto": switched off for good at the first segment holding '<'
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos) + 1 or len(text)
        if end - pos > max_decode_length:
            end = pos + max_decode_length
        segment = text[pos:end]
        if unescape and "<" in segment:
            unescape = False
        pieces.append(fix_segment(segment, unescape))
        pos = end
    return "".join(pieces)


# ============================================================================ CLIP tokenizer
def byte_alphabet():
    """The 256 printable stand-ins for bytes, in vocabulary order."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
            + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    order = list(keep)
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            order.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(order, chars)}


PRETOKENIZE = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)


class ReferenceTokenizer:
    def __init__(self, vocab_path):
        with gzip.open(vocab_path) as f:
            lines = f.read().decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1:1 + MERGES_USED]]
        self.byte_chars = byte_alphabet()
        symbols = list(self.byte_chars.values())
        symbols += [s + "</w>" for s in symbols]
        symbols += ["".join(m) for m in merges]
        symbols += ["<|startoftext|>", "<|endoftext|>"]
        self.ids = {s: i for i, s in enumerate(symbols)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.memo = {"<|startoftext|>": ["<|startoftext|>"], "<|endoftext|>": ["<|endoftext|>"]}
        self.sot = self.ids["<|startoftext|>"]
        self.eot = self.ids["<|endoftext|>"]

    def merge(self, piece):
        if piece in self.memo:
            return self.memo[piece]
        word = list(piece[:-1]) + [piece[-1] + "</w>"]
        while len(word) > 1:
            ranked = [(self.ranks[p], p) for p in zip(word, word[1:]) if p in self.ranks]
            if not ranked:
                break
            _, (left, right) = min(ranked)
            merged = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
                    merged.append(left + right)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.memo[piece] = word
        return word

    @staticmethod
    def clean(text):
        text = ftfy_fix_text(text)
        text = html.unescape(html.unescape(text)).strip()
        text = regex.sub(r"\s+", " ", text).strip()  # the regex module's \s, as the original
        return text.lower()

    def encode(self, text):
        ids = []
        for piece in PRETOKENIZE.findall(self.clean(text)):
            encoded = "".join(self.byte_chars[b] for b in piece.encode("utf-8"))
            ids.extend(self.ids[s] for s in self.merge(encoded))
        return ids

    def tokenize(self, text):
        tokens = [self.sot] + self.encode(text) + [self.eot]
        full = len(tokens)
        if len(tokens) > CONTEXT_LENGTH:
            tokens = tokens[:CONTEXT_LENGTH]
            tokens[-1] = self.eot
        return full, tokens


# ============================================================================ the prompts
IMAGENET = """tench, goldfish, great white shark, tiger shark, hammerhead shark, electric ray, stingray,
rooster, hen, ostrich, brambling, goldfinch, house finch, junco, indigo bunting, American robin,
bulbul, jay, magpie, chickadee, American dipper, kite (bird of prey), bald eagle, vulture,
great grey owl, fire salamander, smooth newt, eft, spotted salamander, axolotl, American bullfrog,
tree frog, tailed frog, loggerhead sea turtle, leatherback sea turtle, mud turtle, terrapin,
box turtle, banded gecko, green iguana, Carolina anole, desert grassland whiptail lizard, agama,
frilled-necked lizard, alligator lizard, Gila monster, European green lizard, chameleon,
Komodo dragon, Nile crocodile, American alligator, triceratops, worm snake, ring-necked snake,
eastern hog-nosed snake, king cobra, green mamba, sea snake, Saharan horned viper, trilobite,
harvestman, scorpion, tick, centipede, black grouse, ptarmigan, ruffed grouse, peafowl, quail,
African grey parrot, macaw, sulphur-crested cockatoo, lorikeet, hummingbird, toucan,
red-breasted merganser, goose, black swan, tusker, echidna, platypus, jellyfish, sea anemone,
brain coral, flatworm, nematode, conch, snail, slug, sea slug, chiton, chambered nautilus,
Dungeness crab, rock crab, fiddler crab, red king crab, American lobster, spiny lobster, crayfish,
hermit crab, isopod, white stork, black stork, spoonbill, flamingo, little blue heron, great egret,
bittern bird, crane bird, limpkin, common gallinule, American coot, bustard, ruddy turnstone,
dunlin, common redshank, dowitcher, oystercatcher, pelican, king penguin, albatross, grey whale,
killer whale, dugong, sea lion, Chihuahua, Japanese Chin, Maltese, Pekingese, Shih Tzu,
King Charles Spaniel, Papillon, toy terrier, Rhodesian Ridgeback, Afghan Hound, Basset Hound,
Beagle, Bloodhound, Bluetick Coonhound, Black and Tan Coonhound, Treeing Walker Coonhound,
English foxhound, Redbone Coonhound, borzoi, Irish Wolfhound, Italian Greyhound, Whippet,
Ibizan Hound, Norwegian Elkhound, Otterhound, Saluki, Scottish Deerhound, Weimaraner,
Staffordshire Bull Terrier, American Staffordshire Terrier, Bedlington Terrier, Border Terrier,
Kerry Blue Terrier, Irish Terrier, Norfolk Terrier, Norwich Terrier, Yorkshire Terrier,
Wire Fox Terrier, Lakeland Terrier, Sealyham Terrier, Airedale Terrier, Cairn Terrier,
Australian Terrier, Dandie Dinmont Terrier, Boston Terrier, Miniature Schnauzer, Giant Schnauzer,
Standard Schnauzer, Scottish Terrier, Tibetan Terrier, Australian Silky Terrier,
Soft-coated Wheaten Terrier, West Highland White Terrier, Lhasa Apso, Flat-Coated Retriever,
Curly-coated Retriever, Golden Retriever, Labrador Retriever, Chesapeake Bay Retriever,
German Shorthaired Pointer, Vizsla, English Setter, Irish Setter, Gordon Setter, Brittany dog,
Clumber Spaniel, English Springer Spaniel, Welsh Springer Spaniel, Cocker Spaniel, Sussex Spaniel,
Irish Water Spaniel, Kuvasz, Schipperke, Groenendael dog, Malinois, Briard, Australian Kelpie,
Komondor, Old English Sheepdog, Shetland Sheepdog, collie, Border Collie, Bouvier des Flandres dog,
Rottweiler, German Shepherd Dog, Dobermann, Miniature Pinscher, Greater Swiss Mountain Dog,
Bernese Mountain Dog, Appenzeller Sennenhund, Entlebucher Sennenhund, Boxer, Bullmastiff,
Tibetan Mastiff, French Bulldog, Great Dane, St. Bernard, husky, Alaskan Malamute, Siberian Husky,
Dalmatian, Affenpinscher, Basenji, pug, Leonberger, Newfoundland dog, Great Pyrenees dog, Samoyed,
Pomeranian, Chow Chow, Keeshond, brussels griffon, Pembroke Welsh Corgi, Cardigan Welsh Corgi,
Toy Poodle, Miniature Poodle, Standard Poodle, Mexican hairless dog (xoloitzcuintli), grey wolf,
Alaskan tundra wolf, red wolf or maned wolf, coyote, dingo, dhole, African wild dog, hyena,
red fox, kit fox, Arctic fox, grey fox, tabby cat, tiger cat, Persian cat, Siamese cat,
Egyptian Mau, cougar, lynx, leopard, snow leopard, jaguar, lion, tiger, cheetah, brown bear,
American black bear, polar bear, sloth bear, mongoose, meerkat, tiger beetle, ladybug,
ground beetle, longhorn beetle, leaf beetle, dung beetle, rhinoceros beetle, weevil, fly, bee,
ant, grasshopper, cricket insect, stick insect, cockroach, praying mantis, cicada, leafhopper,
lacewing, dragonfly, damselfly, red admiral butterfly, ringlet butterfly, monarch butterfly,
small white butterfly, sulphur butterfly, gossamer-winged butterfly, starfish, sea urchin,
sea cucumber, cottontail rabbit, hare, Angora rabbit, hamster, porcupine, fox squirrel, marmot,
beaver, guinea pig, common sorrel horse, zebra, pig, wild boar, warthog, hippopotamus, ox,
water buffalo, bison, ram (adult male sheep), bighorn sheep, Alpine ibex, hartebeest, impala (antelope),
gazelle, arabian camel, llama, weasel, mink, European polecat, black-footed ferret, otter, skunk,
badger, armadillo, three-toed sloth, orangutan, gorilla, chimpanzee, gibbon, siamang, guenon,
patas monkey, baboon, macaque, langur, black-and-white colobus, proboscis monkey, marmoset,
white-headed capuchin, howler monkey, titi monkey, Geoffroy's spider monkey, common squirrel monkey,
ring-tailed lemur, indri, Asian elephant, African bush elephant, red panda, giant panda, snoek fish,
eel, silver salmon, rock beauty fish, clownfish, sturgeon, gar fish, lionfish, pufferfish, abacus,
abaya, academic gown, accordion, acoustic guitar, aircraft carrier, airliner, airship, altar,
ambulance, amphibious vehicle, analog clock, apiary, apron, trash can, assault rifle, backpack,
bakery, balance beam, balloon, ballpoint pen, Band-Aid, banjo, baluster / handrail, barbell,
barber chair, barbershop, barn, barometer, barrel, wheelbarrow, baseball, basketball, bassinet,
bassoon, swimming cap, bath towel, bathtub, station wagon, lighthouse, beaker, military hat (bearskin or shako),
beer bottle, beer glass, bell tower, baby bib, tandem bicycle, bikini, ring binder, binoculars,
birdhouse, boathouse, bobsleigh, bolo tie, poke bonnet, bookcase, bookstore, bottle cap,
hunting bow, bow tie, brass memorial plaque, bra, breakwater, breastplate, broom, bucket, buckle,
bulletproof vest, high-speed train, butcher shop, taxicab, cauldron, candle, cannon, canoe,
can opener, cardigan, car mirror, carousel, tool kit, cardboard box / carton, car wheel,
automated teller machine, cassette, cassette player, castle, catamaran, CD player, cello,
mobile phone, chain, chain-link fence, chain mail, chainsaw, storage chest, chiffonier, bell or wind chime,
china cabinet, Christmas stocking, church, movie theater, cleaver, cliff dwelling, cloak, clogs,
cocktail shaker, coffee mug, coffeemaker, spiral or coil, combination lock, computer keyboard,
candy store, container ship, convertible, corkscrew, cornet, cowboy boot, cowboy hat, cradle,
construction crane, crash helmet, crate, infant bed, Crock Pot, croquet ball, crutch, cuirass,
dam, desk, desktop computer, rotary dial telephone, diaper, digital clock, digital watch,
dining table, dishcloth, dishwasher, disc brake, dock, dog sled, dome, doormat, drilling rig,
drum, drumstick, dumbbell, Dutch oven, electric fan, electric guitar, electric locomotive,
entertainment center, envelope, espresso machine, face powder, feather boa, filing cabinet,
fireboat, fire truck, fire screen, flagpole, flute, folding chair, football helmet, forklift,
fountain, fountain pen, four-poster bed, freight car, French horn, frying pan, fur coat,
garbage truck, gas mask or respirator, gas pump, goblet, go-kart, golf ball, golf cart, gondola,
gong, gown, grand piano, greenhouse, radiator grille, grocery store, guillotine, hair clip,
hair spray, half-track, hammer, hamper, hair dryer, hand-held computer, handkerchief, hard disk drive,
harmonica, harp, combine harvester, hatchet, holster, home theater, honeycomb, hook, hoop skirt,
gymnastic horizontal bar, horse-drawn vehicle, hourglass, iPod, clothes iron, carved pumpkin,
jeans, jeep, T-shirt, jigsaw puzzle, rickshaw, joystick, kimono, knee pad, knot, lab coat, ladle,
lampshade, laptop computer, lawn mower, lens cap, letter opener, library, lifeboat, lighter,
limousine, ocean liner, lipstick, slip-on shoe, lotion, music speaker, loupe magnifying glass,
sawmill, magnetic compass, messenger bag, mailbox, tights, one-piece bathing suit, manhole cover,
maraca, marimba, mask, matchstick, maypole, maze, measuring cup, medicine cabinet, megalith,
microphone, microwave oven, military uniform, milk can, minibus, miniskirt, minivan, missile,
mitten, mixing bowl, mobile home, ford model t, modem, monastery, monitor, moped, mortar and pestle,
graduation cap, mosque, mosquito net, vespa, mountain bike, tent, computer mouse, mousetrap,
moving van, muzzle, metal nail, neck brace, necklace, baby pacifier, notebook computer, obelisk,
oboe, ocarina, odometer, oil filter, pipe organ, oscilloscope, overskirt, bullock cart, oxygen mask,
product packet / packaging, paddle, paddle wheel, padlock, paintbrush, pajamas, palace, pan flute,
paper towel, parachute, parallel bars, park bench, parking meter, railroad car, patio, payphone,
pedestal, pencil case, pencil sharpener, perfume, Petri dish, photocopier, plectrum, Pickelhaube,
picket fence, pickup truck, pier, piggy bank, pill bottle, pillow, ping-pong ball, pinwheel,
pirate ship, drink pitcher, block plane, planetarium, plastic bag, plate rack, farm plow, plunger,
Polaroid camera, pole, police van, poncho, pool table, soda bottle, plant pot, potter's wheel,
power drill, prayer rug, printer, prison, missile, projector, hockey puck, punching bag, purse,
quill, quilt, race car, racket, radiator, radio, radio telescope, rain barrel, recreational vehicle,
fishing casting reel, reflex camera, refrigerator, remote control, restaurant, revolver, rifle,
rocking chair, rotisserie, eraser, rugby ball, ruler measuring stick, sneaker, safe, safety pin,
salt shaker, sandal, sarong, saxophone, scabbard, weighing scale, school bus, schooner, scoreboard,
CRT monitor, screw, screwdriver, seat belt, sewing machine, shield, shoe store, shoji screen / room divider,
shopping basket, shopping cart, shovel, shower cap, shower curtain, ski, balaclava ski mask,
sleeping bag, slide rule, sliding door, slot machine, snorkel, snowmobile, snowplow, soap dispenser,
soccer ball, sock, solar thermal collector, sombrero, soup bowl, keyboard space bar, space heater,
space shuttle, spatula, motorboat, spider web, spindle, sports car, spotlight, stage, steam locomotive,
through arch bridge, steel drum, stethoscope, scarf, stone wall, stopwatch, stove, strainer, tram,
stretcher, couch, stupa, submarine, suit, sundial, sunglasses, sunglasses, sunscreen, suspension bridge,
mop, sweatshirt, swim trunks / shorts, swing, electrical switch, syringe, table lamp, tank,
tape player, teapot, teddy bear, television, tennis ball, thatched roof, front curtain, thimble,
threshing machine, throne, tile roof, toaster, tobacco shop, toilet seat, torch, totem pole,
tow truck, toy store, tractor, semi-trailer truck, tray, trench coat, tricycle, trimaran, tripod,
triumphal arch, trolleybus, trombone, hot tub, turnstile, typewriter keyboard, umbrella, unicycle,
upright piano, vacuum cleaner, vase, vaulted or arched ceiling, velvet fabric, vending machine,
vestment, viaduct, violin, volleyball, waffle iron, wall clock, wallet, wardrobe, military aircraft,
sink, washing machine, water bottle, water jug, water tower, whiskey jug, whistle, hair wig,
window screen, window shade, Windsor tie, wine bottle, airplane wing, wok, wooden spoon, wool,
split-rail fence, shipwreck, sailboat, yurt, website, comic book, crossword, traffic or street sign,
traffic light, dust jacket, menu, plate, guacamole, consomme, hot pot, trifle, ice cream, popsicle,
baguette, bagel, pretzel, cheeseburger, hot dog, mashed potatoes, cabbage, broccoli, cauliflower,
zucchini, spaghetti squash, acorn squash, butternut squash, cucumber, artichoke, bell pepper,
cardoon, mushroom, Granny Smith apple, strawberry, orange, lemon, fig, pineapple, banana,
jackfruit, cherimoya (custard apple), pomegranate, hay, carbonara, chocolate syrup, dough,
meatloaf, pizza, pot pie, burrito, red wine, espresso, tea cup, eggnog, mountain, bubble, cliff,
coral reef, geyser, lakeshore, promontory, sandbar, beach, valley, volcano, baseball player,
bridegroom, scuba diver, rapeseed, daisy, yellow lady's slipper, corn, acorn, rose hip,
horse chestnut seed, coral fungus, agaric, gyromitra, stinkhorn mushroom, earth star fungus,
hen of the woods mushroom, bolete, corn cob, toilet paper"""

FOOD101 = """apple pie, baby back ribs, baklava, beef carpaccio, beef tartare, beet salad, beignets,
bibimbap, bread pudding, breakfast burrito, bruschetta, caesar salad, cannoli, caprese salad,
carrot cake, ceviche, cheesecake, cheese plate, chicken curry, chicken quesadilla, chicken wings,
chocolate cake, chocolate mousse, churros, clam chowder, club sandwich, crab cakes, creme brulee,
croque madame, cup cakes, deviled eggs, donuts, dumplings, edamame, eggs benedict, escargots,
falafel, filet mignon, fish and chips, foie gras, french fries, french onion soup, french toast,
fried calamari, fried rice, frozen yogurt, garlic bread, gnocchi, greek salad,
grilled cheese sandwich, grilled salmon, guacamole, gyoza, hamburger, hot and sour soup, hot dog,
huevos rancheros, hummus, ice cream, lasagna, lobster bisque, lobster roll sandwich,
macaroni and cheese, macarons, miso soup, mussels, nachos, omelette, onion rings, oysters,
pad thai, paella, pancakes, panna cotta, peking duck, pho, pizza, pork chop, poutine, prime rib,
pulled pork sandwich, ramen, ravioli, red velvet cake, risotto, samosa, sashimi, scallops,
seaweed salad, shrimp and grits, spaghetti bolognese, spaghetti carbonara, spring rolls, steak,
strawberry shortcake, sushi, tacos, takoyaki, tiramisu, tuna tartare, waffles"""

PETS = """Abyssinian, American Bulldog, American Pit Bull Terrier, Basset Hound, Beagle, Bengal, Birman,
Bombay, Boxer, British Shorthair, Chihuahua, Egyptian Mau, English Cocker Spaniel, English Setter,
German Shorthaired, Great Pyrenees, Havanese, Japanese Chin, Keeshond, Leonberger, Maine Coon,
Miniature Pinscher, Newfoundland, Persian, Pomeranian, Pug, Ragdoll, Russian Blue, Saint Bernard,
Samoyed, Scottish Terrier, Shiba Inu, Siamese, Sphynx, Staffordshire Bull Terrier, Wheaten Terrier,
Yorkshire Terrier"""

FLOWERS = """pink primrose, hard-leaved pocket orchid, canterbury bells, sweet pea, english marigold,
tiger lily, moon orchid, bird of paradise, monkshood, globe thistle, snapdragon, colt's foot,
king protea, spear thistle, yellow iris, globe-flower, purple coneflower, peruvian lily,
balloon flower, giant white arum lily, fire lily, pincushion flower, fritillary, red ginger,
grape hyacinth, corn poppy, prince of wales feathers, stemless gentian, artichoke, sweet william,
carnation, garden phlox, love in the mist, mexican aster, alpine sea holly, ruby-lipped cattleya,
cape flower, great masterwort, siam tulip, lenten rose, barbeton daisy, daffodil, sword lily,
poinsettia, bolero deep blue, wallflower, marigold, buttercup, oxeye daisy, common dandelion,
petunia, wild pansy, primula, sunflower, pelargonium, bishop of llandaff, gaura, geranium,
orange dahlia, pink-yellow dahlia?, cautleya spicata, japanese anemone, black-eyed susan,
silverbush, californian poppy, osteospermum, spring crocus, bearded iris, windflower, tree poppy,
gazania, azalea, water lily, rose, thorn apple, morning glory, passion flower, lotus, toad lily,
anthurium, frangipani, clematis, hibiscus, columbine, desert-rose, tree mallow, magnolia,
cyclamen, watercress, canna lily, hippeastrum, bee balm, ball moss, foxglove, bougainvillea,
camellia, mallow, mexican petunia, bromelia, blanket flower, trumpet creeper, blackberry lily"""

CARS = """AM General Hummer SUV 2000, Acura RL Sedan 2012, Acura TL Type-S 2008, Aston Martin V8 Vantage Convertible 2012,
Audi R8 Coupe 2012, Audi S5 Convertible 2012, BMW 1 Series Coupe 2012, BMW M3 Coupe 2012,
Bentley Continental Supersports Conv. Convertible 2012, Bugatti Veyron 16.4 Coupe 2009,
Chevrolet Corvette ZR1 2012, Chevrolet Silverado 1500 Hybrid Crew Cab 2012, Dodge Ram Pickup 3500 Crew Cab 2010,
Eagle Talon Hatchback 1998, FIAT 500 Abarth 2012, Ferrari 458 Italia Convertible 2012,
Ford F-150 Regular Cab 2007, Ford GT Coupe 2006, GMC Savana Van 2012, Geo Metro Convertible 1993,
HUMMER H3T Crew Cab 2010, Honda Odyssey Minivan 2012, Hyundai Veloster Hatchback 2012,
Jeep Grand Cherokee SUV 2012, Lamborghini Reventon Coupe 2008, Land Rover LR2 SUV 2012,
McLaren MP4-12C Coupe 2012, Mercedes-Benz SL-Class Coupe 2009, Nissan 240SX Coupe 1998,
Plymouth Neon Coupe 1999, Porsche Panamera Sedan 2012, Rolls-Royce Phantom Drophead Coupe Convertible 2012,
Scion xD Hatchback 2012, Spyker C8 Convertible 2009, Suzuki SX4 Sedan 2012, Tesla Model S Sedan 2012,
Toyota Camry Sedan 2012, Volkswagen Golf Hatchback 1991, Volvo XC90 SUV 2007, smart fortwo Convertible 2012"""

AIRCRAFT = """707-320, 727-200, 737-200, 737-300, 737-400, 737-500, 737-600, 737-700, 737-800, 737-900,
747-100, 747-200, 747-300, 747-400, 757-200, 757-300, 767-200, 767-300, 767-400, 777-200, 777-300,
A300B4, A310, A318, A319, A320, A321, A330-200, A330-300, A340-200, A340-300, A340-500, A340-600,
A380, ATR-42, ATR-72, An-12, BAE 146-200, BAE 146-300, BAE-125, Beechcraft 1900, Boeing 717,
C-130, C-47, CRJ-200, CRJ-700, CRJ-900, Cessna 172, Cessna 208, Cessna 525, Cessna 560,
Challenger 600, DC-10, DC-3, DC-6, DC-8, DC-9-30, DH-82, DHC-1, DHC-6, DHC-8-100, DHC-8-300,
DR-400, Dornier 328, E-170, E-190, E-195, EMB-120, ERJ 135, ERJ 145, Embraer Legacy 600,
Eurofighter Typhoon, F-16A/B, F/A-18, Falcon 2000, Falcon 900, Fokker 100, Fokker 50, Fokker 70,
Global Express, Gulfstream IV, Gulfstream V, Hawk T1, Il-76, L-1011, MD-11, MD-80, MD-87, MD-90,
Metroliner, Model B200, PA-28, SR-20, Saab 2000, Saab 340, Spitfire, Tornado, Tu-134, Tu-154, Yak-42"""

EUROSAT = """Annual Crop Land, Forest, Herbaceous Vegetation Land, Highway or Road, Industrial Buildings,
Pasture Land, Permanent Crop Land, Residential Buildings, River, Sea or Lake"""

UCF101 = """Apply_Eye_Makeup, Apply_Lipstick, Archery, Baby_Crawling, Balance_Beam, Band_Marching,
Baseball_Pitch, Basketball, Basketball_Dunk, Bench_Press, Biking, Billiards, Blow_Dry_Hair,
Blowing_Candles, Body_Weight_Squats, Bowling, Boxing_Punching_Bag, Boxing_Speed_Bag, Breast_Stroke,
Brushing_Teeth, Clean_And_Jerk, Cliff_Diving, Cricket_Bowling, Cricket_Shot, Cutting_In_Kitchen,
Diving, Drumming, Fencing, Field_Hockey_Penalty, Floor_Gymnastics, Frisbee_Catch, Front_Crawl,
Golf_Swing, Haircut, Hammer_Throw, Hammering, Handstand_Pushups, Handstand_Walking, Head_Massage,
High_Jump, Horse_Race, Horse_Riding, Hula_Hoop, Ice_Dancing, Javelin_Throw, Juggling_Balls,
Jump_Rope, Jumping_Jack, Kayaking, Knitting, Long_Jump, Lunges, Military_Parade, Mixing, Mopping_Floor,
Nunchucks, Parallel_Bars, Pizza_Tossing, Playing_Cello, Playing_Daf, Playing_Dhol, Playing_Flute,
Playing_Guitar, Playing_Piano, Playing_Sitar, Playing_Tabla, Playing_Violin, Pole_Vault,
Pommel_Horse, Pull_Ups, Punch, Push_Ups, Rafting, Rock_Climbing_Indoor, Rope_Climbing, Rowing,
Salsa_Spin, Shaving_Beard, Shotput, Skate_Boarding, Skiing, Skijet, Sky_Diving, Soccer_Juggling,
Soccer_Penalty, Still_Rings, Sumo_Wrestling, Surfing, Swing, Table_Tennis_Shot, Tai_Chi,
Tennis_Swing, Throw_Discus, Trampoline_Jumping, Typing, Uneven_Bars, Volleyball_Spiking,
Walking_With_Dog, Wall_Pushups, Writing_On_Board, Yo_Yo"""

DTD = """banded, blotchy, braided, bubbly, bumpy, chequered, cobwebbed, cracked, crosshatched, crystalline,
dotted, fibrous, flecked, freckled, frilly, gauzy, grid, grooved, honeycombed, interlaced, knitted,
lacelike, lined, marbled, matted, meshed, paisley, perforated, pitted, pleated, polka-dotted,
porous, potholed, scaly, smeared, spiralled, sprinkled, stained, stratified, striped, studded,
swirly, veined, waffled, woven, wrinkled, zigzagged"""

SUN = """abbey, airplane cabin, airport terminal, alley, amphitheater, amusement arcade, amusement park,
anechoic chamber, apartment building outdoor, apse indoor, aquarium, aqueduct, arch, archive,
arrival gate outdoor, art gallery, art school, art studio, assembly line, athletic field outdoor,
atrium public, attic, auditorium, auto factory, badlands, badminton court indoor, baggage claim,
bakery shop, balcony exterior, balcony interior, ball pit, ballroom, bamboo forest, banquet hall,
bar, barn, barndoor, baseball field, basement, basilica, basketball court outdoor, bathroom,
batters box, bayou, bazaar indoor, bazaar outdoor, beach, beauty salon, bedroom, berth,
biology laboratory, bistro indoor, boardwalk, boat deck, boathouse, bookstore, booth indoor,
botanical garden, bow window indoor, bowling alley, boxing ring, brewery indoor, bridge,
building facade, bullring, burial chamber, bus interior, butchers shop, butte, cabin outdoor,
cafeteria, campsite, campus, canal natural, canal urban, candy store, canyon, car interior backseat,
carrousel, casino indoor, castle, catacomb, cathedral indoor, cemetery, chalet, cheese factory,
chemistry lab, chicken coop indoor, childs room, church indoor, classroom, clean room, cliff,
cloister indoor, closet, clothing store, coast, cockpit, coffee shop, computer room, conference center,
control room, corn field, corral, corridor, cottage garden, courthouse, courtroom, courtyard,
covered bridge exterior, creek, crevasse, crosswalk, cubicle office, dam, delicatessen, dentists office,
desert sand, desert vegetation, diner indoor, dining car, dining room, discotheque, doorway outdoor,
dorm room, driveway, driving range outdoor, drugstore, electrical substation, elevator door,
elevator shaft, engine room, escalator indoor, excavation, factory indoor, fairway, fastfood restaurant,
field cultivated, field wild, fire escape, fire station, firing range indoor, fishpond, florist shop indoor,
food court, forest broadleaf, forest needleleaf, forest path, forest road, formal garden, fountain,
galley, game room, garage indoor, garbage dump, gas station, gazebo exterior, general store indoor,
gift shop, golf course, greenhouse indoor, gymnasium indoor, hangar indoor, harbor, hayfield,
heliport, herb garden, highway, hill, home office, hospital, hospital room, hot spring, hot tub outdoor,
hotel outdoor, hotel room, house, hunting lodge outdoor, ice cream parlor, ice floe, ice shelf,
ice skating rink indoor, iceberg, igloo, industrial area, inn outdoor, islet, jacuzzi indoor, jail cell,
jewelry shop, kasbah, kennel outdoor, kindergarden classroom, kitchen, kitchenette, labyrinth outdoor,
lake natural, landfill, landing deck, laundromat, lecture room, library indoor, lighthouse, limousine interior,
living room, lobby, lock chamber, locker room, mansion, manufactured home, market indoor, marsh,
martial arts gym, mausoleum, medina, moat water, monastery outdoor, mosque indoor, motel, mountain,
mountain snowy, movie theater indoor, museum indoor, music store, music studio, nuclear power plant outdoor,
nursery, oast house, observatory outdoor, ocean, office, office building, oil refinery outdoor, oilrig,
operating room, orchard, outhouse outdoor, pagoda, palace, pantry, park, parking garage indoor,
parking lot, parlor, pasture, patio, pavilion, pharmacy, phone booth, physics laboratory, picnic area,
pilothouse indoor, planetarium outdoor, playground, playroom, plaza, podium indoor, pond, poolroom establishment,
power plant outdoor, promenade deck, pub indoor, pulpit, putting green, racecourse, raceway, raft,
railroad track, rainforest, reception, recreation room, residential neighborhood, restaurant, restaurant kitchen,
restaurant patio, rice paddy, riding arena, river, rock arch, rope bridge, ruin, runway, sandbar,
sandbox, sauna, schoolhouse, sea cliff, server room, shed, shoe shop, shopfront, shopping mall indoor,
shower, skatepark, ski lodge, ski resort, ski slope, sky, skyscraper, slum, snowfield, squash court,
stable, stadium baseball, stadium football, stage indoor, staircase, street, subway interior,
subway station platform, supermarket, sushi bar, swamp, swimming pool indoor, swimming pool outdoor,
synagogue indoor, television studio, temple east asia, temple south asia, tennis court indoor,
tennis court outdoor, tent outdoor, theater indoor procenium, theater indoor seats, thriftshop, throne room,
ticket booth, toll plaza, topiary garden, tower, toyshop, track outdoor, train railway, train station platform,
tree farm, tree house, trench, underwater coral reef, utility room, valley, van interior, vegetable garden,
veranda, veterinarians office, viaduct, videostore, village, vineyard, volcano, volleyball court indoor,
volleyball court outdoor, waiting room, warehouse indoor, water tower, waterfall block, waterfall fan,
waterfall plunge, watering hole, wave, wet bar, wheat field, wind farm, windmill, wine cellar barrel storage,
wine cellar bottle storage, wrestling ring indoor, yard, youth hostel"""

TEMPLATES = [
    "a photo of a {}.", "a photo of a {}, a type of food.", "a photo of a {}, a type of pet.",
    "a photo of a {}, a type of flower.", "a photo of a {}, a type of aircraft.",
    "a centered satellite photo of {}.", "a photo of a person doing {}.", "{} texture.",
    "a photo of a {}.", "itap of a {}.", "a bad photo of the {}.", "a origami {}.",
    "a photo of the large {}.", "a {} in a video game.", "art of the {}.", "a photo of the small {}.",
    "A PHOTO OF A {}!", "a blurry photo of a {}", "a sculpture of the {}.", "a rendition of the {}.",
]


def split_names(block):
    return [n.strip() for n in block.replace("\n", " ").split(",") if n.strip()]


def prompts():
    cases = []  # (text or bytes, description)

    def add(text, note=None):
        cases.append((text, note))

    # the CLIP.md test vectors first
    for t in ["hello world", "a photo of a fox", "a photo of a cat.", "Hello, World!", "don't", "1234",
              "&amp;lt;b&amp;gt;"]:
        add(t, "CLIP.md vector")
    # class names of common benchmarks, bare and in prompt templates
    datasets = [IMAGENET, FOOD101, PETS, FLOWERS, CARS, AIRCRAFT, EUROSAT, UCF101, DTD, SUN]
    rng = random.Random(1234)
    for block in datasets:
        names = split_names(block)
        for i, name in enumerate(names):
            if i % 3 == 0:
                add(name, "class name")
            if i % 2 == 0:
                add(rng.choice(TEMPLATES).format(name.replace("_", " ") if i % 4 else name), "prompt")
    # punctuation, digits, contractions, special tokens
    for t in ["!!!???...", "a---b", "(parentheses) [brackets] {braces}", "#hashtag @mention",
              "e-mail@example.com", "http://example.com/path?q=1&r=2", "C++ C# F# .NET", "50% off!",
              "$9.99 \u20ac5 \u00a33 \u00a5100", "1234567890", "3.14159", "1,000,000", "2023-10-01T12:00:00Z",
              "DON'T", "don't stop", "they're we've I'm you'll he'd it's", "'s's", "rock'n'roll",
              "o'clock", "''quoted''", "it's  'quoted'", "I'D WE'LL THEY'VE", "'", "'re", "x'",
              "<|startoftext|>", "<|endoftext|>", "Hello <|endoftext|> world", "a<|startoftext|>b",
              "<|STARTOFTEXT|>", "!<|endoftext|>", "<|startoftext|><|endoftext|>", "<|endoftext",
              "\u00bd \u00b2 \u216b \u2463", "x\u00b2+y\u00b2", "H\u2082O", "\u0663\u0664\u0665 arabic-indic",
              "\u0967\u0968 devanagari digits", "one 1 two 2", "a_b_c", "snake_case_name", "CamelCaseName",
              "~`^|\\", "a/b\\c", ":-) ;-( :D", "...", "-", "_", "a.b.c.", "   leading and trailing   ",
              "", " ", "\t\n", "a", "A", "7", "\u00e9", "!", "?!", "\u2026 ellipsis", "em\u2014dash en\u2013dash",
              "\u00abguillemets\u00bb \u201equotes\u201c", "\u00bfqu\u00e9? \u00a1s\u00ed!"]:
        add(t, "punctuation/digits/contractions")
    # non-ASCII letters
    for t in ["caf\u00e9", "na\u00efve r\u00e9sum\u00e9", "Stra\u00dfe", "STRASSE", "Gr\u00fc\u00dfe aus K\u00f6ln",
              "\u0130stanbul", "\u0131I\u0069\u0130", "D\u0130YARBAKIR", "\u03a9\u03bc\u03ad\u03b3\u03b1",
              "\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3.", "\u03a3", "a\u03a3 b", "\u03a3\u03a3",
              "\u039f\u0394\u039f\u03a3\u0345", "A\u03a3'", "\u041c\u043e\u0441\u043a\u0432\u0430",
              "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
              "\u4e2d\u6587\u5206\u8bcd\u6d4b\u8bd5", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
              "\u05e2\u05d1\u05e8\u05d9\u05ea", "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0939\u093f\u0928\u094d\u0926\u0940",
              "\u1f08\u03b8\u03ae\u03bd\u03b1\u03b9", "\u1f88 prosgegrammeni", "\u0174\u0175 \u0176\u0177",
              "\U0001f642 emoji \U0001f389\U0001f436", "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
              "\U0001f1eb\U0001f1f7 flag", "\U0001f44d\U0001f3fd", "\u2764\ufe0f", "\U0001d400\U0001d401 math bold",
              "\u00c5ngstr\u00f6m \u212b", "\u2126 ohm", "\u212a kelvin", "e\u0301t\u0301e\u0301", "a\u0308o\u0308u\u0308",
              "\u1100\u1161\u11a8 jamo", "\u1100\u1161 \u1112\u1161\u11ab", "q\u0307\u0323", "\u1e0b\u0323",
              "\u0041\u030a\u0301", "\u0345alone", "ab\u0345cd", "it'\u017f ok", "<|\u017ftartoftext|>",
              "\u017fs", "\ufb01sh \ufb02owers \ufb03\ufb04 \ufb05\ufb06", "\u0133\u0132 \u01c4\u01c5\u01c6 \u01c9\u01cc",
              "\u0149", "\u02bcapostrophe\u02bc", "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33",
              "\uff76\uff80\uff76\uff85 \uff8a\uff9f", "\uff21\uff22\uff23\uff11\uff12\uff13\uff01", "\uffe3\uffe5",
              "\u201cquoted\u201d \u2018single\u2019 it\u2019s", "\u201e\u201f\u201b\u201a", "\u00c6on \u00e6on \u0152uvre",
              "\u00df\u1e9e", "\u0130\u0307", "\u0049\u0307", "\u00cd\u00ec\u012e", "\u0104\u0118\u012e\u0172 ogonek",
              "\u0531\u0562\u0563 armenian \u0587", "\u10d0\u10d1 georgian \u1c90\u1c91", "\u13a0\u13a1 cherokee \uab70",
              "\U00010400 deseret \U00010428", "\U0001e900 adlam \U0001e922", "\u2c00 glagolitic \u2c30",
              "\U00011f04\U00011f05 kawi (Unicode 15)", "\U00031350 cjk ext h"]:
        add(t, "non-ASCII")
    # HTML entities
    for t in ["&amp;", "&lt;", "&gt;", "&amp;lt;", "&eacute;", "&#39;", "&#x27;", "&amp;amp;amp;",
              "&amp;amp;amp;amp;lt;", "&AMP;", "&EACUTE;", "&NTILDE;", "&SZLIG;", "&nTILDE;", "&Ntilde;",
              "&notit;", "&not it", "&notin;", "&copy 2020", "&copy;2020", "&#0;", "&#128;", "&#x80;",
              "&#150;", "&#x96;", "&#xD800;", "&#1114112;", "&#99999999999999999999;", "&#59;", "&#x3B;",
              "&#65", "&#x41", "&#xffff;", "&#x1F600;", "&#12ab;", "&#x12g;", "&#abc;", "&hellip;",
              "&nbsp;x&nbsp;", "&NewLine;a", "a&Tab;b", "&ThickSpace;", "&fjlig;", "&bne;",
              "&CounterClockwiseContourIntegral;", "&amp", "&ampx", "&amplt;", "&lt&gt", "&#", "&#x;",
              "&;", "& amp;", "a&b", "AT&T", "Q&A", "&rsquo;s &ldquo;hi&rdquo;", "&#8217;t", "&#x2019;ll",
              "&#146;s", "&lt;b&gt;bold&lt;/b&gt; &amp; more", "<b>bold</b> &amp; more", "x < y &amp; y > z",
              "&lt;3 you", "1 &lt; 2", "&quot;quoted&quot;", "&apos;single&apos;", "&euro;100",
              "&#x20AC;&#8364;", "&frac12; cup", "&deg;C", "&times;&divide;", "&alpha;&beta;&gamma;",
              "&ALPHA;&BETA;", "&Alpha;", "&hearts;", "&#9829;", "&#x1f436;", "&#X1F436;", "&#00065;",
              "&#x0000041;", "&#13;&#10;", "&#127;&#129;&#141;", "&#xfdd0;", "&#x10FFFF;", "&#x110000;",
              "&zwj;&zwnj;", "&shy;", "&ZeroWidthSpace;", "&aacute&eacute", "&Aacutex", "&aacutex;",
              "&lt;&lt;&lt;", "&amp;#39;", "&amp;#x27;", "&#38;amp;", "&#38;#38;amp;lt;",
              "line1 &lt;\nline2 <tag>\nline3 &amp;", "&lt;\n&gt;", "<\n&amp;", "&amp;\n<", "a\n&amp;\nb",
              "&EACUTE;&AELIG;&OSLASH;", "&AELIG;", "&aelig;", "&ETH; &eth; &ETH", "&THORN;", "&SZLIG",
              "&IEXCL;", "&iexcl;", "&dollar;&percnt;&commat;", "&lbrace;&rbrace;&lsqb;&rsqb;"]:
        add(t, "HTML entities")
    # whitespace and control characters
    for t in ["a  b", "a\tb", "a\nb", "a\r\nb", "a\rb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\u2028b\u2029c",
              "a\u0085b", "a\x0bb\x0cc", "a\x1cb\x1dc\x1ed\x1fe", "\x1c", "a\x1c", "\x00a\x07b\x7fc",
              "\x1b[36;44mblue\x1b[0m", "\x1b[mplain", "\x1b[1;31", "\x1b]0;title\x07x", "\x1b[\u0661\u0662m",
              "\ufeffbom", "in\ufeffside", "a\u200bb", "a\u200db", "\u206a\u206fx", "\ufff9\ufffa\ufffb\ufffcx",
              "\x93smart\x94 \x85", "\x80\x81\x8d\x8f\x90\x9d\x9f", "tab\tnew\nline\r\nwin", "\n\n\nx\n\n",
              "   \u3000   ", "\u180e", "a\u180eb", "\u2060", "a\u2060b", "\u00ad", "soft\u00adhyphen",
              "\u2062invisible\u2063", "\U000e0041\U000e007f tags", "\U0001d173\U0001d17a music"]:
        add(t, "whitespace/control")
    # invalid UTF-8 (decoded with errors='replace', as skiptune does)
    for b in [b"\xff", b"abc\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe2\x82\xac ok",
              b"\xf0\x9f\x98x", b"\x80\x80abc", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xc2", b"a\xc2 b",
              b"\xe1\x80", b"\xf8\x88\x80\x80\x80", b"\xfe\xff", b"caf\xe9", b"\xe9t\xe9"]:
        add(b, "invalid UTF-8")
    # long texts: truncation, boundary lengths and long BPE pieces
    sentence = "a photo of a dog. "
    for n in [1, 4, 12, 13, 14, 15, 20, 40]:
        add(sentence * n, "long/truncation")
    for n in [74, 75, 76, 77, 78, 200]:
        add(" ".join(["cat"] * n), "boundary length")
    lorem = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
             "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco "
             "laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in "
             "voluptate velit esse cillum dolore eu fugiat nulla pariatur.")
    add(lorem, "long/truncation")
    add(lorem * 3, "long/truncation")
    add("a" * 500, "long piece (heap BPE path)")
    add("ab" * 300, "long piece (heap BPE path)")
    add("abc" * 150 + "!", "long piece (heap BPE path)")
    add("!" * 300, "long punctuation run")
    add("1" * 100, "many digits")
    add("\u4e2d\u6587" * 400, "long CJK piece")
    add("supercalifragilisticexpialidocious" * 10, "long piece (heap BPE path)")
    add("aaaa bbbb " * 20, "repeated pairs")
    # seeded random strings from a mixed pool (covers interactions between the steps)
    pool = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 4
            + list(" \t\n.,;:!?'\"&#<>-_()[]{}/\\|@$%^*+=~`") * 2
            + ["&amp;", "&lt;", "&#39;", "&#x27;", "&eacute;", "&EACUTE;", "&nbsp;", "&notin;", "&not",
               "\u00e9", "e\u0301", "\u0301", "\u0345", "\u03a3", "\u0130", "\u00df", "\u017f", "\ufb01",
               "\uff21", "\u3000", "\u00a0", "\u2019", "\u201c", "\x93", "\x85", "\x1b[1m", "\x00", "\ufeff",
               "\u4e2d", "\u65e5", "\ud55c", "\u1100", "\u1161", "\u11a8", "\U0001f642", "\u200d", "\u0663",
               "\u00bd", "\u216b", "\u0414", "\u03a9", "\u05d0", "\u0e01", "<|endoftext|>", "'s", "'LL"])
    for i in range(250):
        length = rng.randint(1, 40 if i < 200 else 200)
        add("".join(rng.choice(pool) for _ in range(length)), "random mix")
    return cases


def describe(text, note):
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    shown = shown.encode("unicode_escape").decode("ascii")
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return "%s: %s" % (note, shown)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", default=DEFAULT_VOCAB)
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "tokenizer_parity.tsv"))
    args = ap.parse_args()
    tok = ReferenceTokenizer(args.vocab)
    rows = []
    seen = set()
    for text, note in prompts():
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        if raw in seen:
            continue
        seen.add(raw)
        # Strings travel as their UTF-8 bytes; skiptune decodes bytes with errors="replace".
        full, ids = tok.tokenize(raw.decode("utf-8", "replace"))  # unpadded; the test pads
        rows.append("%s\t%d\t%s\t%s" % (raw.hex(), full, " ".join(map(str, ids)), describe(text, note)))
    header = ("# CLIP tokenizer parity cases written by scripts/make_tokenizer_parity.py — do not edit.\n"
              "# Python %s (unicodedata %s), regex %s; clip.tokenize(text, context_length=77, truncate=True).\n"
              "# columns: input UTF-8 bytes as hex, untruncated token count (with sot/eot), ids up to and\n"
              "# including <|endoftext|> (the rest of the 77 are zeros), description\n"
              % (sys.version.split()[0], unicodedata.unidata_version, regex.__version__))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(header)
        f.write("\n".join(rows) + "\n")
    print("wrote %d cases to %s" % (len(rows), args.out))


if __name__ == "__main__":
    main()
