"""`python -m scripts.setup_bert`: the real bert-base-uncased tokenizer files (the command of ``gdino_serve.bert_vocab``)."""

from gdino_serve.bert_vocab import main

if __name__ == "__main__":
    main()
