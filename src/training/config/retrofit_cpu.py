# RETRO-fitting on 2 CPU cores (no GPU lent): the H200 decoder of ../shared/runs/h200-2026-12-04 (a fluent LM whose
# cross-attention had no positions) gets CCA with relative positions, copy-initialised so that it reads an aligned
# neighbour from step 0, and an induction layer (5) that reads a neighbour by content wherever the shared text sits
# (its queries and keys train; the body and embeddings unchanged); then the body learns to answer questions by
# reading the best passage out (QA stage, CCA and encoder frozen). docs/training.md has the measurements behind
# every setting.
#
#   ../shared/runs/h200-2026-12-04/assemble.sh runs/fit/h200
#   python3 src/training/prepare_corpus.py --out data/corpus                     # all sources, ~1 min
#   python3 src/training/pretokenize.py --corpus data/corpus --tokenizer models/retro/tokenizer.json \
#       --out runs/fit/tokens --splits train,validation
#   python3 src/training/neighbours.py src/training/config/retrofit_cpu.py       # H200 bi-encoder, ~80-90 min on 2 cores
#   python3 src/training/train_retro.py src/training/config/retrofit_cpu.py      # copy + induction init, 300 steps, evaluation: ~13 min
#   dotnet run -c Release --project src/Retro.Eval -- qa-data --config eval/qa-train.json --out runs/fit/qa/train.jsonl
#   python3 src/training/train_qa.py src/training/config/retrofit_cpu.py         # ~15 min
#   python3 src/training/export.py --run runs/fit --out models --retro_stage qa
# (src/training/retrofit_cpu.sh runs all of it.)
out_dir = "runs/fit"
device = "cpu"
dtype = "float32"
seed = 1337
chunk_size = 64
neighbour_len = 128
nb_k = 2
nb_batch = 128
nb_block = 2048
nb_encoder_folder = "runs/fit/h200/encoder"
nb_workers = 2          # the database's 438k chunks embedded by 2 processes, one thread each (neighbours.py)
nb_splits = "validation"  # fitting and evaluation windows are validation text (lm_fit_split); the train split's
                          # own neighbours (438k more queries) are not needed
lm_neighbour_min_match = 0.125  # both stages read only the neighbours the service's gate passes (MinNeighbourMatch):
                                # CCA learns to copy without learning to ignore (docs/training.md, "Training with the
                                # gate"); the evaluation adds the gate's tail test, --lm_neighbour_tail=4 (the service's
                                # NeighbourTail; "A tail on the gate"), which training did not use

# RETRO-fitting: the architecture comes from the H200 folder (8 x 384, CCA at 3/5/7, 2-layer encoder)
lm_init_from = "runs/fit/h200/retro"
lm_cca_positions = "rope"
lm_reinit_cca = True
lm_cca_init = "copy"    # CCA starts reading the aligned continuation (model.init_cca_copy)
lm_fit_split = "validation-spans"  # text the H200 body has not memorised (it saw the train split 3.4 times), every
                                   # third span of validation documents kept for evaluation (train_retro.split_by_spans)
lm_seq_len = 512
lm_induction_layers = [5]  # content-addressed reading (an induction head) at layer 5 (model.init_cca_induction)
lm_induction_gain = 1.0
lm_induction_sharpness = 4.0
lm_previous_token_scale = 1.0
lm_train = "reading"    # only the queries, keys and sinks of the reading layers train: which matches to trust, not
                        # whether to copy (training all of CCA learned to copy less, not when: docs/training.md)
lm_reading_layers = [5, 7]  # the induction layer and the positional copy of the aligned continuation
lm_cca_sink = True      # a learned sink per CCA head: a head reads only where a key outscores it (a gated read)
lm_sink_init = [0.0, 0.0, 30.0]  # layers 3 / 5 / 7; layer 7's aligned key scores ~41 (model._positional_rope_pair)
lm_sink_lr_ratio = 100.0
lm_steps = 500
lm_batch = 4
lm_grad_accum = 1
lm_lr = 1e-3
lm_overlap_pool = 1
lm_oracle_frac = 0.1    # neighbour 0 is the chunk's own aligned continuation for 10 % of chunks ...
lm_shift_oracle_frac = 0.25  # ... and its continuation at a random offset (+-48) for 25 %
lm_min_lr_ratio = 0.1
lm_warmup = 30
lm_weight_decay = 0.0
lm_neighbour_dropout = 0.0  # the body is frozen: closed-book is the H200 decoder whatever CCA learns
lm_eval_every = 300
lm_eval_windows = 16
lm_final_eval_windows = 256
lm_oracle_windows = 64
lm_log_every = 10
lm_ckpt_every = 100

# question answering (train_qa.py) from the RETRO-fitted decoder
qa_init_from = "runs/fit/retro/model_ckpt"
qa_data = "runs/fit/qa/train.jsonl"
qa_train = "all"        # CCA and the encoder train too (the body at qa_body_lr_ratio): better on every clean figure than "body"
qa_lr = 1e-4
qa_body_lr_ratio = 0.2
qa_steps = 400
qa_batch = 12
qa_warmup = 30
qa_neighbour_dropout = 0.1
qa_lm_mix = 0.25
qa_lm_split = "fit"     # LM rows from the RETRO-fitting windows, not the memorised train split
qa_lm_shift_oracle_frac = 0.15  # ... with some shifted-oracle neighbours, so the body keeps trusting a real match
qa_neighbours = 1       # the best neighbour per question ...
qa_layout = "answer"    # ... laid out after the question chunk, where the answer's continuation goes
qa_target = "passage"   # read the best passage out to the end of its first sentence, then stop
qa_lm_seq_len = 256
qa_val_lines = 100
qa_eval_every = 100
qa_log_every = 10
qa_ckpt_every = 100

# cross-encoder: the H200 bi-encoder's body + a new head, groups from the product's hybrid first stage (the same
# qa-data lines, exported with --candidates 16), its SQuAD half too (the chunks it reranks in the service); 10 % of
# the lines stay out of training and choose the weight that fuses its rank with the first stage's
# (Retro:Retrieval:RerankWeight)
rr_encoder_folder = "runs/fit/h200/encoder"
rr_groups = "runs/fit/qa/train.jsonl"
rr_squad_share = 0.5    # half of every batch from SQuAD training articles (the product groups are 91 % definitions)
rr_squad_source = "product"
rr_tune_frac = 0.1
rr_fusion_k = 10        # the service's RRF k (appsettings.json, Retro:Retrieval:RrfK)
rr_max_len = 160
rr_steps = 600
rr_batch = 8
rr_negatives = 7
rr_lr = 2e-4
rr_warmup = 50
rr_rerank_top = 20
rr_eval_max_questions = 300
rr_log_every = 10
