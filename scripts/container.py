"""`python -m scripts.container`: build and measure the serving image with Podman (the command of ``gdino_serve.container``)."""

from gdino_serve.container import main

if __name__ == "__main__":
    main()
