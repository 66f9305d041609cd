namespace Retro.Engine.Retro;

/// <summary>
/// One sequence's buffers for <see cref="RetroDecoder"/>, allocated once on the backend (llama2.c's RunState):
/// activations for up to one segment of S = chunk_size positions, the self-attention KV cache, the inputs of layer
/// min(cca_layers) for the current chunk, the neighbour encoder's scratch and the CCA keys/values of the latest
/// completed chunk. Not thread-safe; dispose to free the backend memory.
/// </summary>
public sealed class RetroRunState : IDisposable
{
    private readonly List<BackendBuffer> _buffers = [];

    /// <summary>Allocates the state for <paramref name="config"/> on <paramref name="backend"/>.</summary>
    /// <param name="config">The model's architecture.</param>
    /// <param name="backend">Where the buffers live.</param>
    /// <param name="maxNeighbours">Most neighbours a chunk may have (k); sizes the encoder and CCA caches.</param>
    /// <param name="maxSequenceLength">KV cache length; at most config.MaxSeqLen is typical, any positive value works (RoPE has no table).</param>
    /// <param name="logitRows">Rows of logits kept per segment: 1 (next-token only) or chunk_size (every position, full forward).</param>
    public RetroRunState(RetroConfig config, IBackend backend, int maxNeighbours, int maxSequenceLength, int logitRows = 1)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfNegative(maxNeighbours);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequenceLength, 1);
        if (logitRows != 1 && logitRows != config.ChunkSize)
            throw new ArgumentOutOfRangeException(nameof(logitRows), logitRows, $"logit rows must be 1 or chunk_size ({config.ChunkSize})");
        Config = config;
        Backend = backend;
        MaxNeighbours = config.CcaLayers.Count == 0 ? 0 : maxNeighbours;
        MaxSequenceLength = maxSequenceLength;
        int d = config.DModel, s = config.ChunkSize, r = config.NeighbourLen;
        SegmentCapacity = s;

        X = F32(s, d);
        Xb = F32(s, d);
        Q = F32(s, d);
        AttnOut = F32(s, d);
        Hidden = F32(s, config.DFf);
        Logits = F32(logitRows, config.VocabSize);
        Ids = I32(1, s);
        Positions = I32(1, s);
        CcaPositions = I32(1, s);
        Qkv = new Tensor[config.NLayers];
        KeyCache = new Tensor[config.NLayers];
        ValueCache = new Tensor[config.NLayers];
        for (int i = 0; i < config.NLayers; i++)
        {
            // row p = [q | k | v] of position p: one projection writes all three in place, RoPE rotates q|k at once
            Qkv[i] = F32(maxSequenceLength, 3 * d);
            KeyCache[i] = Qkv[i].SliceColumns(d, d);        // (T, D) stride 3D, RoPE applied
            ValueCache[i] = Qkv[i].SliceColumns(2 * d, d);  // (T, D) stride 3D
        }

        int nCca = config.CcaLayers.Count;
        CcaKeys = new Tensor[nCca];
        CcaValues = new Tensor[nCca];
        if (nCca > 0)
        {
            int kr = Math.Max(1, MaxNeighbours) * r;
            ChunkInputs = F32(s, d);
            EncX = F32(kr, d);
            EncXb = F32(kr, d);
            EncQ = F32(kr, d);
            EncK = F32(kr, d);
            EncV = F32(kr, d);
            EncAttnOut = F32(kr, d);
            EncHidden = F32(kr, config.EncoderDFf);
            Encoded = F32(kr, d);
            ChunkKeys = F32(s, d);
            ChunkValues = F32(s, d);
            EncIds = I32(1, kr);
            EncPositions = I32(1, kr);
            ChunkPositions = I32(1, s);
            var chunkPositions = new int[s];
            for (int i = 0; i < s; i++) chunkPositions[i] = i;
            backend.Upload<int>(chunkPositions, ChunkPositions);
            EncMask = I32(1, kr);
            for (int c = 0; c < nCca; c++)
            {
                CcaKeys[c] = F32(kr, d);    // (k·r, D) cca.k_proj(E_u)
                CcaValues[c] = F32(kr, d);  // (k·r, D) cca.v_proj(E_u)
            }
            HostEncIds = new int[kr];
            HostEncMask = new int[kr];
            HostEncPositions = new int[kr];
            HostNeighbourStarts = new int[Math.Max(1, MaxNeighbours) + 1];
            EncAttention = new AttentionItem[Math.Max(1, MaxNeighbours)];
        }
        HostLogits = new float[config.VocabSize * logitRows];
        Reset();
    }

    /// <summary>The architecture the buffers are sized for.</summary>
    public RetroConfig Config { get; }

    /// <summary>The backend owning the buffers.</summary>
    public IBackend Backend { get; }

    /// <summary>Most neighbours per chunk.</summary>
    public int MaxNeighbours { get; }

    /// <summary>KV cache length: the longest sequence this state can hold.</summary>
    public int MaxSequenceLength { get; }

    /// <summary>Most positions one forward segment holds (chunk_size).</summary>
    public int SegmentCapacity { get; }

    /// <summary>Tokens fed so far: the position of the next token.</summary>
    public int Length { get; internal set; }

    /// <summary>The chunk whose neighbours the CCA cache holds (-1: none yet).</summary>
    public int CachedChunk { get; internal set; }

    /// <summary>Neighbours encoded for <see cref="CachedChunk"/> (0: closed-book for that chunk).</summary>
    public int CachedNeighbours { get; internal set; }

    /// <summary>
    /// Token rows of the encoded neighbours in the CCA cache: each neighbour up to its last token (trailing padding is
    /// not encoded: it can reach no other row), neighbours one after another.
    /// </summary>
    public int CachedRows { get; internal set; }

    // ---- activations for one segment (S = chunk_size rows)
    internal Tensor X { get; }          // (S, D) residual stream
    internal Tensor Xb { get; }         // (S, D) normed input of a block
    internal Tensor Q { get; }          // (S, D) queries
    internal Tensor AttnOut { get; }    // (S, D) attention output before o_proj
    internal Tensor Hidden { get; }     // (S, F) MLP hidden
    internal Tensor Logits { get; }     // (1 or S, V)
    internal Tensor Ids { get; }        // I32 (1, S) token ids
    internal Tensor Positions { get; }  // I32 (1, S) absolute positions
    internal Tensor CcaPositions { get; } // I32 (1, S) CCA query positions m−1 + ((p+1) mod m) (cca_positions = rope)
    internal Tensor[] Qkv { get; }        // per layer (T, 3D): q | k | v per position (q kept only for the current segment)
    internal Tensor[] KeyCache { get; }   // per layer (T, D) view of Qkv
    internal Tensor[] ValueCache { get; } // per layer (T, D) view of Qkv

    // ---- neighbour encoder (k·r rows) and CCA cache
    internal Tensor ChunkInputs { get; }   // (m, D) inputs of layer min(cca_layers) for the current chunk: H_u
    internal Tensor EncX { get; }          // (k·r, D) encoder residual stream
    internal Tensor EncXb { get; }         // (k·r, D)
    internal Tensor EncQ { get; }          // (k·r, D)
    internal Tensor EncK { get; }          // (k·r, D)
    internal Tensor EncV { get; }          // (k·r, D)
    internal Tensor EncAttnOut { get; }    // (k·r, D)
    internal Tensor EncHidden { get; }     // (k·r, Fe)
    internal Tensor Encoded { get; }       // (k·r, D) E_u = encoder.norm_f(e)
    internal Tensor ChunkKeys { get; }     // (m, D) cross.k_proj(H_u) of one encoder layer
    internal Tensor ChunkValues { get; }   // (m, D) cross.v_proj(H_u)
    internal Tensor EncIds { get; }        // I32 (1, k·r)
    internal Tensor EncPositions { get; }  // I32 (1, k·r): each neighbour's positions 0.. over its rows
    internal Tensor ChunkPositions { get; } // I32 (1, m): 0..m−1, the chunk states' positions in the encoder's cross-attention
    internal Tensor EncMask { get; }       // I32 (1, k·r): 1 = token, 0 = padding
    internal Tensor[] CcaKeys { get; }     // per CCA layer (k·r, D)
    internal Tensor[] CcaValues { get; }   // per CCA layer (k·r, D)
    internal int[] HostEncIds { get; } = [];
    internal int[] HostEncMask { get; } = [];
    internal int[] HostEncPositions { get; } = [];      // 0..L_j−1 per neighbour j (its rows only)
    internal int[] HostNeighbourStarts { get; } = [];   // first row of neighbour j; [k] = rows in all
    internal AttentionItem[] EncAttention { get; } = []; // one self-attention item per neighbour
    internal float[] HostLogits { get; }

    /// <summary>Forgets the sequence (the buffers are kept).</summary>
    public void Reset()
    {
        Length = 0;
        CachedChunk = -1;
        CachedNeighbours = 0;
        CachedRows = 0;
    }

    /// <summary>Frees the backend buffers.</summary>
    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
    }

    private Tensor F32(int rows, int cols) => Alloc(DType.F32, rows, cols);
    private Tensor I32(int rows, int cols) => Alloc(DType.I32, rows, cols);

    private Tensor Alloc(DType type, int rows, int cols)
    {
        var buffer = Backend.Allocate((long)rows * cols * DTypes.SizeOf(type));
        _buffers.Add(buffer);
        return buffer.AsTensor(type, rows, cols);
    }
}
