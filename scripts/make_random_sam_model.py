"""`python -m scripts.make_random_sam_model`: a deterministic random-weight SAM / SAM 2.1 folder (the command of ``gdino_serve.demo_sam_model``)."""

from gdino_serve.demo_sam_model import main

if __name__ == "__main__":
    main()
