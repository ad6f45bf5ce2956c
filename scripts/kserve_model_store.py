"""`python -m scripts.kserve_model_store`: the model store KServe's TorchServe runtime expects (the command of ``gdino_serve.kserve_store``)."""

from gdino_serve.kserve_store import main

if __name__ == "__main__":
    main()
