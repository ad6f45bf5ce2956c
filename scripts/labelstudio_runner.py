"""`python -m scripts.labelstudio_runner`: a throwaway Label Studio to try things with (the command of ``gdino_serve.tools.labelstudio_runner``)."""

from gdino_serve.tools.labelstudio_runner import main

if __name__ == "__main__":
    main()
