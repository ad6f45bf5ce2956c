"""`python -m scripts.download_weights`: the official weights, checked, or a random demo (the command of ``gdino_serve.download_weights``)."""

from gdino_serve.download_weights import main

if __name__ == "__main__":
    main()
