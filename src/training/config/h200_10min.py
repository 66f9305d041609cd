# One NVIDIA H200 for about 10 minutes (a lent device machine): every stage sized to fit that budget; RETRO's
# step count is set from its measured step time by the wrapper (lm_steps is overridden). The pipeline of
# ../shared/runs/h200-2026-12-04 (which trained the decoder whose CCA had no positions), now with relative positions
# in CCA and a QA stage: src/training/gpu/README.md says how to run it (src/training/gpu/prepare.sh here, then
# src/training/gpu/run.sh on the device).
out_dir = "runs/gpu"
device = "cuda"
dtype = "bfloat16"
compile = False
seed = 1337
chunk_size = 64
neighbour_len = 128
nb_k = 2
nb_batch = 2048
nb_block = 8192

# bi-encoder: BERT family, 4 layers, d = 384 (13.4 M parameters with 16,384 tokens)
enc_layers = 4
enc_hidden = 384
enc_heads = 6
enc_max_len = 256
enc_max_pos = 256
enc_steps = 1000
enc_batch = 256
enc_lr = 5e-4
enc_warmup = 100
enc_hard_negatives = True
enc_mine_every = 400
enc_mine_pool = 4096
enc_max_chunk_pairs = 400000
enc_max_title_pairs = 200000
enc_eval_max_pairs = 4000
enc_log_every = 50

# cross-encoder: the bi-encoder's body + a classifier head
rr_max_len = 256
rr_steps = 600
rr_batch = 32
rr_negatives = 7
rr_mine_top = 30
rr_lr = 1e-4
rr_warmup = 50
rr_rerank_top = 20
rr_max_corpus_queries = 40000
rr_eval_max_questions = 2000
rr_log_every = 50

# RETRO decoder: 8 layers, d = 384, CCA at layers 3, 5, 7, 2-layer neighbour encoder, context 512
lm_n_layers = 8
lm_d_model = 384
lm_n_heads = 6
lm_d_ff = 1536
lm_cca_layers = [3, 5, 7]
lm_encoder_layers = 2
lm_encoder_heads = 6
lm_encoder_d_ff = 1024
lm_seq_len = 512
lm_steps = 3000
lm_batch = 64
lm_grad_accum = 1
lm_lr = 1e-3
lm_warmup = 200
lm_neighbour_dropout = 0.25
lm_eval_every = 500
lm_eval_windows = 32
lm_final_eval_windows = 1024
lm_log_every = 25
lm_ckpt_every = 0
lm_cca_positions = "rope"
lm_cca_init = "copy"    # CCA starts reading the aligned continuation (model.init_cca_copy; docs/training.md)
lm_copy_layers = [3, 5, 7]
lm_cca_sink = True      # a learned sink per CCA head: a gated read (docs/training.md, "A gated read"); from scratch
lm_sink_init = 0.0      # the sinks start at 0
lm_oracle_windows = 64

# question answering on the decoder just trained (qa-data lines carried from the CPU machine, see gpu/prepare.sh)
qa_init_from = "runs/gpu/retro/model_ckpt"
qa_data = "runs/gpu/qa/train.jsonl"
qa_train = "all"
qa_lr = 5e-4
qa_body_lr_ratio = 0.2
qa_steps = 600
qa_batch = 64
qa_warmup = 30
qa_neighbour_dropout = 0.1
qa_lm_mix = 0.25
qa_neighbours = 1       # the service's question layout (docs/model-format.md, "Question neighbours")
qa_layout = "answer"
qa_target = "passage"
qa_lm_seq_len = 512
qa_val_lines = 100
qa_eval_every = 200
qa_log_every = 25
qa_ckpt_every = 0
