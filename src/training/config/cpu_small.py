# Small CPU run: the models that ship in models/ when no GPU can be had (2 cores, about 1 h 30 min with OpenBLAS):
#   src/training/run_pipeline.sh --config src/training/config/cpu_small.py --out runs/cpu --corpus data/corpus-cpu \
#       --corpus-only c4,c4-olmo,redpajama-c4,dolma-cc,wikitext,wordnet,foldoc,jargon
# (the served sample corpus is FOLDOC, Jargon File and WordNet). Sizes are chosen for the time budget, not for
# quality: see the MODEL_CARD.md files in models/.
# Run with torch's BLAS = OpenBLAS (Debian's default reference BLAS is ~15x slower):
#   apt-get install -y libopenblas0-pthread     # or LD_LIBRARY_PATH=<dir of OpenBLAS's libblas.so.3>
out_dir = "runs/cpu"
device = "cpu"
dtype = "float32"
compile = False
seed = 1337
chunk_size = 64
neighbour_len = 128
nb_k = 2
nb_batch = 256
nb_block = 1024  # (Q block x all chunks) score matrix: 1024 x 118k floats = 0.5 GB, plus masks

# bi-encoder: 2 layers, d = 256
enc_layers = 2
enc_hidden = 256
enc_heads = 4
enc_max_len = 96
enc_max_pos = 128
enc_steps = 400
enc_batch = 64
enc_lr = 1e-3
enc_warmup = 30
enc_hard_negatives = True
enc_mine_every = 200
enc_mine_pool = 4096
enc_max_chunk_pairs = 60000
enc_max_title_pairs = 60000
enc_eval_max_pairs = 1000
enc_log_every = 20

# cross-encoder: 2 layers, d = 256
rr_max_len = 128  # <= enc_max_pos: the cross-encoder starts from the bi-encoder
rr_steps = 250
rr_batch = 8
rr_negatives = 3
rr_mine_top = 10
rr_lr = 5e-4
rr_warmup = 20
rr_rerank_top = 20
rr_max_corpus_queries = 4000
rr_eval_max_questions = 300
rr_log_every = 25

# RETRO decoder: 4 layers, d = 256, CCA at layers 2 and 3, 1-layer neighbour encoder
lm_n_layers = 4
lm_d_model = 256
lm_n_heads = 4
lm_d_ff = 1024
lm_cca_layers = [2, 3]
lm_encoder_layers = 1
lm_encoder_heads = 4
lm_encoder_d_ff = 512
lm_seq_len = 256
lm_steps = 600
lm_batch = 16
lm_grad_accum = 1
lm_lr = 2e-3
lm_warmup = 40
lm_neighbour_dropout = 0.25
lm_eval_every = 200
lm_eval_windows = 32
lm_final_eval_windows = 256
lm_log_every = 20
lm_ckpt_every = 100
