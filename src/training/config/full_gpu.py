# Full run on one NVIDIA GPU (H100/H200, PyTorch 2.x): the sizes. Inputs (token + neighbour files) stay
# within 64 MiB; checkpoints are written as files of at most 16 MiB (common.save_sharded).
# Budget (estimates, to be measured): encoder ~15 min, neighbours ~5 min, reranker ~10 min, RETRO ~2-3 h.
out_dir = "runs/full"
device = "cuda"
dtype = "bfloat16"
compile = False  # set True to try torch.compile (PyTorch 2.x)
seed = 1337
chunk_size = 64
neighbour_len = 128
nb_k = 2
nb_batch = 1024
nb_block = 8192

# bi-encoder: BERT family, 6 layers, d = 384
enc_layers = 6
enc_hidden = 384
enc_heads = 6
enc_max_len = 256
enc_steps = 6000
enc_batch = 256
enc_lr = 3e-4
enc_warmup = 300
enc_hard_negatives = True
enc_mine_every = 1000
enc_mine_pool = 32768
enc_max_chunk_pairs = 400000
enc_max_title_pairs = 200000
enc_eval_max_pairs = 4000

# cross-encoder
rr_max_len = 320
rr_steps = 3000
rr_batch = 32
rr_negatives = 7
rr_mine_top = 30
rr_lr = 5e-5
rr_warmup = 150
rr_rerank_top = 20
rr_max_corpus_queries = 40000

# RETRO decoder: 8 layers, d = 512, CCA every third layer from the middle ([4, 7]), 2-layer neighbour encoder
lm_n_layers = 8
lm_d_model = 512
lm_n_heads = 8
lm_d_ff = 1536  # with V = 16,384: 37.8 M parameters, 75.5 MB in BF16; models/ stays under 150 MB
lm_cca_layers = None
lm_encoder_layers = 2
lm_encoder_heads = 8
lm_encoder_d_ff = 1024
lm_seq_len = 512
lm_steps = 20000
lm_batch = 64
lm_grad_accum = 1
lm_lr = 6e-4
lm_warmup = 500
lm_neighbour_dropout = 0.25
lm_eval_every = 1000
lm_eval_windows = 64
lm_final_eval_windows = 1024
lm_ckpt_every = 1000
