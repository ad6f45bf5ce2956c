"""`python -m scripts.measure_serving`: cold start, archive size and latency of a served model (the command of ``gdino_serve.tools.measure_serving``)."""

from gdino_serve.tools.measure_serving import main

if __name__ == "__main__":
    main()
