"""`python -m scripts.validate_kserve_manifests`: check the KServe manifests (the command of ``gdino_serve.tools.validate_kserve_manifests``)."""

from gdino_serve.tools.validate_kserve_manifests import main

if __name__ == "__main__":
    main()
