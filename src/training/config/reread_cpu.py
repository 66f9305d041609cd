# A reading pass after the QA stage (docs/training.md, "Reading again after QA"), given after retrofit_cpu.py:
#
#   python3 src/training/train_retro.py src/training/config/retrofit_cpu.py src/training/config/reread_cpu.py
#
# Written when the QA stage trained the decoder body with CCA frozen (qa_train = "body"): the body learns to trust
# what CCA writes, and an unrelated neighbour costs more again. This pass keeps that body frozen and trains what reads at
# layers 5 and 7 (queries, keys, values, outputs) and the sinks, on the same LM windows and oracle mix as the
# RETRO-fitting stage: which matches to trust, and how much of a read to write, for the body as it now is.
lm_stage = "reread"
lm_init_from = "runs/fit/qa/model_ckpt"
lm_reinit_cca = False       # keep CCA, the sinks and the encoder as the earlier stages left them
lm_induction_layers = []    # no re-initialisation of the read-outs either
lm_train = "reading-values"
lm_reading_layers = [5, 7]
lm_steps = 300
lm_lr = 5e-4
lm_warmup = 20
