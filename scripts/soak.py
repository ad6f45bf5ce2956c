"""`python -m scripts.soak`: the soak run against a real TorchServe (the command of ``gdino_serve.tools.soak``)."""

from gdino_serve.tools.soak import main

if __name__ == "__main__":
    main()
