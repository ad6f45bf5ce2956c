"""`python -m scripts.torchserve_runner`: TorchServe on free loopback ports, by hand (the command of ``gdino_serve.torchserve_runner``)."""

from gdino_serve.torchserve_runner import main

if __name__ == "__main__":
    main()
