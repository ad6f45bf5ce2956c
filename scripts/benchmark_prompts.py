"""`python -m scripts.benchmark_prompts`: named vocabularies with and without the prompt cache (``gdino_serve.tools.benchmark_prompts``)."""

from gdino_serve.tools.benchmark_prompts import main

if __name__ == "__main__":
    main()
