"""The words figures print: lane and condition labels, protein names, stains, units, plot labels.

Plain tuples, sampled by the block builders (forgery_d2.data.synthetic.figures.blocks).
"""

__all__ = [
    "AXIS_LABELS",
    "CELL_LINES",
    "CHANNEL_SETS",
    "CONCENTRATION_SERIES",
    "CONCENTRATION_UNITS",
    "CONDITIONS",
    "DRUGS",
    "GEL_LADDERS_BP",
    "KDA_MARKERS",
    "LOADING_CONTROLS",
    "MERGE_LABELS",
    "PLATE_LABELS",
    "PROTEINS",
    "SCALE_BAR_UM",
    "TIME_SERIES",
    "TIME_UNITS",
    "TREATMENT_ROWS",
    "X_AXIS_LABELS",
]

PROTEINS = (
    "p-ERK1/2",
    "ERK1/2",
    "p-AKT (S473)",
    "AKT",
    "p-mTOR",
    "mTOR",
    "p53",
    "p21",
    "Bax",
    "Bcl-2",
    "Cleaved caspase-3",
    "Caspase-3",
    "PARP",
    "c-Myc",
    "Cyclin D1",
    "CDK4",
    "E-cadherin",
    "N-cadherin",
    "Vimentin",
    "Snail",
    "LC3B",
    "p62",
    "Beclin-1",
    "HIF-1α",
    "VEGF",
    "NF-κB p65",
    "IκBα",
    "p-STAT3",
    "STAT3",
    "YAP",
    "TAZ",
    "β-catenin",
    "GFP",
    "Flag",
    "HA",
    "Myc-tag",
    "Histone H3",
    "H3K27me3",
    "Nrf2",
    "HO-1",
    "TGF-β1",
    "Smad2/3",
    "p-Smad2",
    "MMP-9",
    "PD-L1",
)
LOADING_CONTROLS = ("β-actin", "GAPDH", "α-tubulin", "Vinculin", "Lamin B1", "Histone H3", "HSP90")
KDA_MARKERS = (250, 180, 130, 100, 70, 55, 40, 35, 25, 15, 10)
DRUGS = (
    "DMSO",
    "Dox",
    "Cisplatin",
    "5-FU",
    "Rapamycin",
    "LY294002",
    "U0126",
    "MG132",
    "TNF-α",
    "LPS",
    "EGF",
    "IL-6",
    "H2O2",
    "Metformin",
    "Paclitaxel",
    "CHX",
    "BafA1",
    "Wortmannin",
)
CONDITIONS = (
    "Ctrl",
    "Control",
    "NC",
    "Vector",
    "siNC",
    "siRNA",
    "shCtrl",
    "shRNA",
    "si-1",
    "si-2",
    "KO",
    "WT",
    "OE",
    "Mock",
    "Sham",
    "Model",
    "Vehicle",
    "Normal",
    "Tumor",
    "Low",
    "High",
)
CELL_LINES = (
    "HeLa",
    "MCF-7",
    "A549",
    "HepG2",
    "HEK293T",
    "SW480",
    "PC-3",
    "U87",
    "HCT116",
    "RAW264.7",
)
TREATMENT_ROWS = ("siRNA", "shRNA", "Vector", "OE", "Inhibitor", "Serum") + DRUGS[1:12]
CONCENTRATION_SERIES = (
    ("0", "1", "5", "10", "20"),
    ("0", "0.1", "1", "10"),
    ("0", "25", "50", "100", "200"),
    ("0", "2.5", "5", "10"),
)
CONCENTRATION_UNITS = ("μM", "nM", "mg/ml", "ng/ml", "μg/ml")
TIME_SERIES = (
    ("0", "5", "15", "30", "60"),
    ("0", "6", "12", "24", "48"),
    ("0", "1", "2", "4", "8"),
)
TIME_UNITS = ("min", "h", "d")
# Fluorescence channel sets: (label, RGB colour) columns of a microscopy grid; the merge comes last.
CHANNEL_SETS = (
    (("DAPI", (0.25, 0.45, 1.0)), ("GFP", (0.1, 1.0, 0.2))),
    (("DAPI", (0.2, 0.35, 1.0)), ("LC3", (0.1, 1.0, 0.1)), ("Lamp1", (1.0, 0.15, 0.1))),
    (("Hoechst", (0.3, 0.5, 1.0)), ("Ki67", (1.0, 0.2, 0.15))),
    (("DAPI", (0.2, 0.4, 1.0)), ("Phalloidin", (1.0, 0.25, 0.2)), ("YAP", (0.15, 1.0, 0.3))),
    (("DAPI", (0.2, 0.4, 1.0)), ("CD31", (1.0, 0.2, 0.6)), ("α-SMA", (0.2, 1.0, 0.3))),
    (("DAPI", (0.3, 0.3, 1.0)), ("TUNEL", (0.2, 1.0, 0.2))),
    (("Hoechst", (0.25, 0.45, 1.0)), ("MitoTracker", (1.0, 0.3, 0.1)), ("Tom20", (0.2, 0.9, 0.2))),
)
MERGE_LABELS = ("Merge", "Merged", "Overlay")
SCALE_BAR_UM = (10, 20, 25, 50, 100, 200)
GEL_LADDERS_BP = (
    (3000, 2000, 1500, 1000, 750, 500, 250, 100),
    (2000, 1000, 750, 500, 250, 100),
    (10000, 5000, 3000, 2000, 1000, 500, 250),
    (1500, 1000, 800, 600, 400, 200, 100),
)
AXIS_LABELS = (
    "Relative expression",
    "Relative mRNA level",
    "Fold change",
    "% of control",
    "Cell viability (%)",
    "Relative protein level",
    "Colony number",
    "OD 450 nm",
    "Tumor volume (mm³)",
    "Migrated cells",
    "Apoptosis (%)",
    "Relative luciferase activity",
    "Ki67+ cells (%)",
    "Wound closure (%)",
    "Body weight (g)",
    "Intensity (a.u.)",
)
X_AXIS_LABELS = ("Time (h)", "Days", "Concentration (μM)", "Time (min)", "Dose (mg/kg)")
PLATE_LABELS = ("Ctrl", "siNC", "siRNA", "Vector", "OE", "DMSO", "Drug", "WT", "KO", "Mock")
