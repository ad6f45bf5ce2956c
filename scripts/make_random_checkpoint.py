"""`python -m scripts.make_random_checkpoint`: a deterministic random-weight checkpoint (the command of ``gdino_serve.demo_checkpoint``)."""

from gdino_serve.demo_checkpoint import main

if __name__ == "__main__":
    main()
