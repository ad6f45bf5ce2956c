"""`python -m scripts.build_mar`: build a self-contained .mar (the command of ``gdino_serve.model_archive``)."""

from gdino_serve.model_archive import main

if __name__ == "__main__":
    main()
