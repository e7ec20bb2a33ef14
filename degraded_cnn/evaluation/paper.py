"""The paper's numbers (Endo, Tanaka & Okutomi, EI 2020), written in as reference values, for
comparison only: interval means of Tables 3, 4 and 6, the estimator's Tables 2 and 5."""


PAPER_INTERVALS = {  # Tables 3, 4, 6: interval mean accuracy, one value per interval
    ("cifar10", "jpeg"): {"org": (0.431, 0.700, 0.763, 0.799, 0.861),
                          "jpg": (0.724, 0.844, 0.857, 0.866, 0.874),
                          "est_qf": (0.744, 0.849, 0.864, 0.872, 0.880)},
    ("cifar100", "jpeg"): {"org": (0.202, 0.407, 0.465, 0.504, 0.582),
                           "jpg": (0.448, 0.561, 0.577, 0.583, 0.591),
                           "est_qf": (0.454, 0.563, 0.581, 0.588, 0.596)},
    ("cifar10", "noise"): {"org": (0.796, 0.328, 0.138, 0.106, 0.101),
                           "noisy": (0.851, 0.844, 0.829, 0.809, 0.785),
                           "est_nl": (0.882, 0.872, 0.856, 0.834, 0.810)},
}


PAPER_TABLE_NUMBERS = {("cifar10", "jpeg"): 3, ("cifar100", "jpeg"): 4, ("cifar10", "noise"): 6}


PAPER_ESTIMATES = {  # Tables 2 and 5 (CIFAR-10): true value -> (mean, SD) of the estimates
    "jpeg": {20: (20.84, 2.28), 40: (40.93, 3.91), 60: (58.58, 4.07), 80: (79.53, 3.07),
             100: (94.91, 1.91)},
    "noise": {10: (10.03, 0.42), 20: (20.11, 0.54), 30: (30.16, 0.69), 40: (40.11, 0.89),
              50: (49.26, 0.70)},
}


PAPER_ESTIMATE_TABLES = {"jpeg": 2, "noise": 5}
