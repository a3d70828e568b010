from .cli import lm_app

if __name__ == "__main__":
    lm_app(prog_name="python -m spacy_lm")
