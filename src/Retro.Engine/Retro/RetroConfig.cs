using System.Text.Json;

namespace Retro.Engine.Retro;

/// <summary>
/// Architecture of a RETRO decoder (<c>model_type</c> = <c>retro</c>), as read from <c>config.json</c>
/// (docs/model-format.md). Immutable; <see cref="Validate"/> checks the invariants the engine relies on.
/// </summary>
public sealed record RetroConfig
{
    /// <summary>Vocabulary size V (rows of <c>tok_embeddings</c>).</summary>
    public required int VocabSize { get; init; }

    /// <summary>Model width D (decoder and neighbour encoder).</summary>
    public required int DModel { get; init; }

    /// <summary>Number of decoder layers.</summary>
    public required int NLayers { get; init; }

    /// <summary>Decoder attention heads (self-attention and CCA); head dim = D / heads, even.</summary>
    public required int NHeads { get; init; }

    /// <summary>Decoder MLP hidden size F.</summary>
    public required int DFf { get; init; }

    /// <summary>Longest context the model was trained for; the engine sizes its KV cache by it.</summary>
    public required int MaxSeqLen { get; init; }

    /// <summary>Chunk size m (64 in RETRO).</summary>
    public int ChunkSize { get; init; } = 64;

    /// <summary>Neighbour length r = chunk + continuation (128 in RETRO).</summary>
    public int NeighbourLen { get; init; } = 128;

    /// <summary>Default neighbours per chunk k at inference (any k works).</summary>
    public int NumNeighbours { get; init; } = 2;

    /// <summary>0-based decoder layers with chunked cross-attention, ascending; empty = plain decoder.</summary>
    public required IReadOnlyList<int> CcaLayers { get; init; }

    /// <summary>Neighbour encoder layers.</summary>
    public required int EncoderLayers { get; init; }

    /// <summary>Neighbour encoder heads (its width is D).</summary>
    public required int EncoderNHeads { get; init; }

    /// <summary>Neighbour encoder MLP hidden size Fe.</summary>
    public required int EncoderDFf { get; init; }

    /// <summary>RoPE base theta.</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>
    /// Relative positions inside the cross-attentions (<c>cca_positions</c>). <see cref="CcaPositions.Rope"/>: CCA
    /// queries of the shifted chunk at RoPE positions m−1..2m−2, every neighbour's keys at 0..r−1 (query i and
    /// neighbour token i′ are i − i′ + m − 1 apart, the RETRO paper's d(i, i′)); the neighbour encoder's
    /// cross-attention puts neighbour token t at t and chunk state j at j. <see cref="CcaPositions.None"/>: no
    /// positions (files written before the key existed).
    /// </summary>
    public CcaPositions CcaPositions { get; init; } = CcaPositions.Rope;

    /// <summary>How a question chunk's neighbours are laid out (<c>question_layout</c>, default <see cref="QuestionLayout.Chunk"/>).</summary>
    public QuestionLayout QuestionLayout { get; init; } = QuestionLayout.Chunk;

    /// <summary>How many of the retrieved neighbours a question chunk gets, best first (<c>question_neighbours</c>; 0 = all).</summary>
    public int QuestionNeighbours { get; init; }

    /// <summary>
    /// A learned sink per CCA head (<c>cca_sink</c>, default false; weights <c>layers.{i}.cca.sink</c>, n_heads values):
    /// one more key of that logit and value 0 in every chunked cross-attention, so a head reads a neighbour only where
    /// a key outscores its sink (a gated read).
    /// </summary>
    public bool CcaSink { get; init; }

    /// <summary>
    /// The neighbour copy fitted for this decoder (<c>neighbour_copy</c>; null = none): a pointer into the retrieved
    /// neighbours mixed into the next-token distribution (<see cref="Retro.NeighbourCopy"/>).
    /// </summary>
    public NeighbourCopy? NeighbourCopy { get; init; }

    /// <summary>True when the cross-attentions carry RoPE positions.</summary>
    public bool CcaRope => CcaPositions == CcaPositions.Rope;

    /// <summary>LayerNorm epsilon.</summary>
    public float LayerNormEps { get; init; } = 1e-5f;

    /// <summary>True: <c>lm_head</c> is <c>tok_embeddings</c> (and absent from the file).</summary>
    public bool TieEmbeddings { get; init; } = true;

    /// <summary>Beginning-of-sequence id, or -1 when the model has none.</summary>
    public int BosTokenId { get; init; } = -1;

    /// <summary>End-of-sequence id, or -1 when the model has none.</summary>
    public int EosTokenId { get; init; } = -1;

    /// <summary>Padding id, or -1 when the model has none (never attended).</summary>
    public int PadTokenId { get; init; } = -1;

    /// <summary>Format version of the folder (1).</summary>
    public int FormatVersion { get; init; } = 1;

    /// <summary>Decoder head dimension D / heads.</summary>
    public int HeadDim => DModel / NHeads;

    /// <summary>Neighbour encoder head dimension D / encoder heads.</summary>
    public int EncoderHeadDim => DModel / EncoderNHeads;

    /// <summary>The first CCA layer (where H_u is taken), or -1 when there is none.</summary>
    public int FirstCcaLayer => CcaLayers.Count == 0 ? -1 : CcaLayers[0];

    /// <summary>True when decoder layer <paramref name="layer"/> has chunked cross-attention.</summary>
    public bool IsCcaLayer(int layer)
    {
        for (int i = 0; i < CcaLayers.Count; i++) if (CcaLayers[i] == layer) return true;
        return false;
    }

    /// <summary>Index of <paramref name="layer"/> within <see cref="CcaLayers"/>, or -1.</summary>
    public int CcaIndex(int layer)
    {
        for (int i = 0; i < CcaLayers.Count; i++) if (CcaLayers[i] == layer) return i;
        return -1;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first inconsistent field.</summary>
    public RetroConfig Validate()
    {
        Require(VocabSize > 0, "vocab_size must be positive");
        Require(DModel > 0 && NHeads > 0 && DModel % NHeads == 0, "d_model must be a positive multiple of n_heads");
        Require(HeadDim % 2 == 0, "head dim d_model / n_heads must be even (RoPE rotate-half)");
        Require(NLayers > 0, "n_layers must be positive");
        Require(DFf > 0, "d_ff must be positive");
        Require(MaxSeqLen > 0, "max_seq_len must be positive");
        Require(ChunkSize > 0, "chunk_size must be positive");
        Require(NeighbourLen > 0, "neighbour_len must be positive");
        Require(NumNeighbours >= 0, "num_neighbours must not be negative");
        Require(QuestionNeighbours >= 0, "question_neighbours must not be negative");
        for (int i = 0; i < CcaLayers.Count; i++)
        {
            Require(CcaLayers[i] >= 0 && CcaLayers[i] < NLayers, $"cca_layers[{i}] = {CcaLayers[i]} is outside 0..{NLayers - 1}");
            Require(i == 0 || CcaLayers[i] > CcaLayers[i - 1], "cca_layers must be strictly ascending");
        }
        if (CcaLayers.Count > 0)
        {
            Require(EncoderLayers >= 0, "encoder_layers must not be negative");
            Require(EncoderNHeads > 0 && DModel % EncoderNHeads == 0, "d_model must be a multiple of encoder_n_heads");
            Require(EncoderHeadDim % 2 == 0, "encoder head dim must be even (RoPE rotate-half)");
            Require(EncoderDFf > 0, "encoder_d_ff must be positive");
        }
        Require(LayerNormEps > 0, "layer_norm_eps must be positive");
        Require(RopeTheta > 0, "rope_theta must be positive");
        Require(FormatVersion == 1, $"format_version {FormatVersion} is not supported (expected 1)");
        return this;
    }

    /// <summary>Parses a <c>config.json</c> text; throws <see cref="InvalidDataException"/> on a missing or wrong field.</summary>
    public static RetroConfig Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"config.json is not valid JSON: {e.Message}", e); }
        using (doc) return FromJson(doc.RootElement);
    }

    /// <summary>Reads <c>config.json</c> from <paramref name="path"/> (a file, or a model folder holding one).</summary>
    public static RetroConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"RETRO config not found: {file}", file);
        return Parse(File.ReadAllText(file));
    }

    /// <summary>Builds the config from a parsed <c>config.json</c> object and validates it.</summary>
    public static RetroConfig FromJson(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("config.json must hold a JSON object");
        string? modelType = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : null;
        if (modelType != "retro")
            throw new InvalidDataException($"config.json has model_type '{modelType ?? "(missing)"}', expected 'retro'");

        var cca = new List<int>();
        if (root.TryGetProperty("cca_layers", out var ccaEl))
        {
            if (ccaEl.ValueKind != JsonValueKind.Array) throw new InvalidDataException("config.json: cca_layers must be an array of integers");
            foreach (var e in ccaEl.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int layer))
                    throw new InvalidDataException("config.json: cca_layers must be an array of integers");
                cca.Add(layer);
            }
        }
        else throw new InvalidDataException("config.json: missing 'cca_layers'");

        return new RetroConfig
        {
            VocabSize = Int(root, "vocab_size"),
            DModel = Int(root, "d_model"),
            NLayers = Int(root, "n_layers"),
            NHeads = Int(root, "n_heads"),
            DFf = Int(root, "d_ff"),
            MaxSeqLen = Int(root, "max_seq_len"),
            ChunkSize = Int(root, "chunk_size", 64),
            NeighbourLen = Int(root, "neighbour_len", 128),
            NumNeighbours = Int(root, "num_neighbours", 2),
            CcaLayers = cca.ToArray(),
            EncoderLayers = cca.Count == 0 ? Int(root, "encoder_layers", 0) : Int(root, "encoder_layers"),
            EncoderNHeads = cca.Count == 0 ? Int(root, "encoder_n_heads", 1) : Int(root, "encoder_n_heads"),
            EncoderDFf = cca.Count == 0 ? Int(root, "encoder_d_ff", 1) : Int(root, "encoder_d_ff"),
            RopeTheta = Float(root, "rope_theta", 10000f),
            CcaPositions = ParseCcaPositions(root),
            QuestionLayout = ParseQuestionLayout(root),
            QuestionNeighbours = Int(root, "question_neighbours", 0),
            CcaSink = Bool(root, "cca_sink", false),
            NeighbourCopy = NeighbourCopy.FromJson(root),
            LayerNormEps = Float(root, "layer_norm_eps", 1e-5f),
            TieEmbeddings = Bool(root, "tie_embeddings", true),
            BosTokenId = Int(root, "bos_token_id", -1),
            EosTokenId = Int(root, "eos_token_id", -1),
            PadTokenId = Int(root, "pad_token_id", -1),
            FormatVersion = Int(root, "format_version", 1),
        }.Validate();
    }

    private static CcaPositions ParseCcaPositions(JsonElement root) =>
        Choice(root, "cca_positions", CcaPositions.None, ("none", CcaPositions.None), ("rope", CcaPositions.Rope));

    private static QuestionLayout ParseQuestionLayout(JsonElement root) =>
        Choice(root, "question_layout", QuestionLayout.Chunk, ("chunk", QuestionLayout.Chunk), ("answer", QuestionLayout.Answer));

    /// <summary>A string field that names one of <paramref name="choices"/>; absent or null: <paramref name="fallback"/>.</summary>
    private static T Choice<T>(JsonElement root, string name, T fallback, params (string Text, T Value)[] choices)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return fallback;
        string expected = string.Join(" or ", choices.Select(c => $"'{c.Text}'"));
        if (e.ValueKind != JsonValueKind.String) throw new InvalidDataException($"config.json: '{name}' must be a string ({expected})");
        string text = e.GetString()!;
        foreach (var (t, value) in choices)
            if (t == text) return value;
        throw new InvalidDataException($"config.json: '{name}' is '{text}', expected {expected}");
    }

    private static int Int(JsonElement root, string name, int? fallback = null)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null)
            return fallback ?? throw new InvalidDataException($"config.json: missing '{name}'");
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v))
            throw new InvalidDataException($"config.json: '{name}' must be an integer");
        return v;
    }

    private static float Float(JsonElement root, string name, float fallback)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return fallback;
        if (e.ValueKind != JsonValueKind.Number) throw new InvalidDataException($"config.json: '{name}' must be a number");
        return (float)e.GetDouble();
    }

    private static bool Bool(JsonElement root, string name, bool fallback)
    {
        if (!root.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return fallback;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"config.json: '{name}' must be true or false"),
        };
    }

    private static void Require(bool ok, string message)
    {
        if (!ok) throw new InvalidDataException($"config.json: {message}");
    }
}
