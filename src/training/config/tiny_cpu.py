# Tiny CPU run: proves the pipeline end to end in about a minute on 2 cores (numbers are not meaningful).
# Used by run_pipeline.sh --tiny and the pytest smoke test. Every stage reads the keys it knows.
out_dir = "runs/tiny"
device = "cpu"
dtype = "float32"
compile = False
seed = 1337
chunk_size = 64
neighbour_len = 128
nb_k = 2

# bi-encoder
enc_layers = 2
enc_hidden = 32
enc_heads = 4
enc_max_len = 96
enc_max_pos = 128
squad_max_train_questions = 600
squad_max_heldout_questions = 100
enc_steps = 12
enc_batch = 16
enc_lr = 1e-3
enc_warmup = 2
enc_hard_negatives = True
enc_mine_every = 6
enc_mine_pool = 256
enc_max_chunk_pairs = 400
enc_max_title_pairs = 100
enc_eval_max_pairs = 200
enc_log_every = 1

# cross-encoder
rr_max_len = 128
rr_steps = 8
rr_batch = 4
rr_negatives = 3
rr_mine_top = 10
rr_lr = 1e-3
rr_warmup = 2
rr_rerank_top = 10
rr_max_corpus_queries = 200
rr_eval_max_questions = 100
rr_log_every = 1

# RETRO decoder
lm_n_layers = 4
lm_d_model = 32
lm_n_heads = 4
lm_d_ff = 64
lm_cca_layers = [2, 3]
lm_encoder_layers = 2
lm_encoder_heads = 4
lm_encoder_d_ff = 64
lm_seq_len = 256
lm_steps = 12
lm_batch = 4
lm_lr = 3e-3
lm_warmup = 2
lm_neighbour_dropout = 0.25
lm_eval_every = 6
lm_eval_windows = 4
lm_final_eval_windows = 16
lm_log_every = 1
lm_ckpt_every = 6
