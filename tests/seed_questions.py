"""Questions over the two seed articles, written by hand from their text.

Each answerable entry: (question, words the first quote must contain, url of the article).
Used by the tests and by benchmarks/calibrate_abstention.py.
"""

BORDER = "https://www.themoscowtimes.com/2021/11/16/ukraine-border-service-says-no-sign-of-russian-troops-a75572"
SVR = "https://www.themoscowtimes.com/2021/11/22/russia-spy-agency-dismisses-claims-of-ukraine-invasion-plan-a75634"

ANSWERABLE: list[tuple[str, list[str], str]] = [
    ("What did NATO's chief say?", ["Stoltenberg"], BORDER),
    ("Is Russia massing troops right on Ukraine's border, according to Ukraine's border service?",
     ["not amassing"], BORDER),
    ("Who is the spokesman of Ukraine's state border service?", ["Demchenko"], BORDER),
    ("How many troops did Zelenskiy say Russia has gathered near the border?", ["100,000"], BORDER),
    ("What did Macron tell Putin in their phone call?", ["territorial integrity"], BORDER),
    ("What did Blinken say would be a serious mistake?", ["serious mistake"], BORDER),
    ("What did Germany's foreign ministry urge Moscow to do?", ["restraint"], BORDER),
    ("What did the Kremlin complain about instead?", ["NATO activity"], BORDER),
    ("When did the conflict with pro-Russia separatists in the east start?", ["seven years ago"], BORDER),
    ("Which news agency quoted Demchenko?", ["TASS"], BORDER),
    ("What did Putin blame for making negotiations difficult?", ["made difficult"], BORDER),
    ("Why do Western officials say Moscow is using the migrant crisis on the Polish-Belarus border?",
     ["distract"], BORDER),
    ("How far from the border might any actions be taking place?", ["hundreds of kilometers"], BORDER),
    ("What did the SVR say about the American claims?", ["SVR"], SVR),
    ("What did Russia's foreign intelligence service dismiss on Monday?", ["invasion"], SVR),
    ("What did Kremlin spokesman Dmitry Peskov tell reporters about troop movements?",
     ["does not pose a threat"], SVR),
    ("How had Peskov previously described the Western claims?", ["hysteria"], SVR),
    ("What did Ukraine's foreign minister Dmytro Kuleba say on Twitter?", ["Kuleba"], SVR),
    ("Why will Kiev deploy thousands of border guards to its frontier with Belarus?",
     ["migrant crisis"], SVR),
    ("What did France and Germany accuse Moscow of last week?", ["confidential correspondence"], SVR),
    ("Where did Putin say the West was holding drills?", ["Black Sea"], SVR),
    ("What picture does the SVR say the Americans are painting?", ["frightening picture"], SVR),
    ("According to the SVR, who is scaring the global community?", ["bureaucrats"], SVR),
    ("What did Putin say US bombers did?", ["bombers"], SVR),
    ("What do Kiev and its Western allies accuse Russia of sending across the border?",
     ["troops and arms"], SVR),
    ("What information campaign is the West leading, according to the Kremlin?",
     ["information campaign"], SVR),
]

UNANSWERABLE: list[str] = [
    "Who won the 2018 FIFA World Cup?",
    "What is a good recipe for banana bread?",
    "How many moons does Jupiter have?",
    "What did Apple announce at its latest iPhone launch?",
    "Which team won the NBA championship?",
    "What are the symptoms of the flu?",
]
