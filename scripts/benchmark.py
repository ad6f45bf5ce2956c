"""`python -m scripts.benchmark`: the end-to-end benchmark (the command of ``gdino_serve.tools.benchmark``)."""

from gdino_serve.tools.benchmark import main

if __name__ == "__main__":
    main()
