"""The ``sam`` mask back end: SAM and SAM 2 (transformers 4.57.6) prompted with the detector's boxes."""
