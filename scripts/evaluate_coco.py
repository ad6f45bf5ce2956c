"""`python -m scripts.evaluate_coco`: zero-shot COCO evaluation (the command of ``gdino_serve.tools.evaluate_coco``)."""

from gdino_serve.tools.evaluate_coco import main

if __name__ == "__main__":
    main()
