"""`python -m scripts.make_random_hf_model`: a deterministic random-weight Hugging Face folder (the command of ``gdino_serve.demo_hf_model``)."""

from gdino_serve.demo_hf_model import main

if __name__ == "__main__":
    main()
