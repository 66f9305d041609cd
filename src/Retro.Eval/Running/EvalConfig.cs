using System.Text.Json;
using System.Text.Json.Serialization;
using Retro.Core;
using Retro.Core.Options;
using Retro.VectorStore.Qdrant;

namespace Retro.Eval.Running;

/// <summary>
/// A comparison run as written in <c>--config file.json</c> (camelCase keys; relative paths are relative to the config
/// file's folder). See <c>eval/compare.example.json</c> and the README.
/// </summary>
internal sealed record EvalConfig
{
    /// <summary>Output folder: results.json, report.md, plots, cached parts, built stores.</summary>
    public string Output { get; init; } = "runs/eval";

    /// <summary>Where built indexes go (null = <c>{output}/stores</c>); runs that share it share indexes of the same documents.</summary>
    public string? Indexes { get; init; }

    /// <summary>The folder of built indexes.</summary>
    public string IndexFolder => Indexes ?? System.IO.Path.Combine(Output, "stores");

    /// <summary>Seed of the generator's sampler (decoding is greedy; the seed is recorded and keys the cache).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>CPU backend threads (0 = one per core).</summary>
    public int Threads { get; init; }

    public EvalModels Models { get; init; } = new();

    /// <summary>Store for <c>scope = collection</c> datasets and where built indexes go (embedded folder or Qdrant).</summary>
    public EvalStore Store { get; init; } = new();

    /// <summary>
    /// Modes: <c>closed-book</c>, <c>retrieval</c> (the first stage only), <c>rerank</c> (first stage + the
    /// cross-encoder's order), <c>rerank:W</c> (the cross-encoder's rank fused with the first stage's, weight W).
    /// </summary>
    public List<string> Modes { get; init; } = [Mode.ClosedBook, Mode.Retrieval, Mode.Rerank];

    /// <summary>
    /// Candidate searches compared on the retrieval sets: <c>dense</c> (bi-encoder), <c>sparse</c> (BM25), <c>hybrid</c>
    /// (both, RRF); each runs in every retrieval mode (<c>retrieval</c> = without, <c>rerank</c> = with the cross-encoder).
    /// </summary>
    public List<string> Search { get; init; } = [SearchSide.Dense];

    /// <summary>Documents ranked per retrieval query (null = max(10, max k)); recall is also reported at this depth (e.g. recall@100).</summary>
    public int? RetrievalDepth { get; init; }

    /// <summary>Neighbours per chunk swept (RETRO's k); also the cut-offs of recall@k.</summary>
    public List<int> K { get; init; } = [1, 2, 4, 8, 16];

    /// <summary>Candidates from the vector search before reranking, swept in <c>rerank</c> mode (pairs with c &lt; k are skipped).</summary>
    public List<int> Candidates { get; init; } = [16, 32];
    /// <summary>
    /// Whether the decoder's neighbour copy is mixed in (<see cref="Core.Options.RetrievalOptions.NeighbourCopy"/>) in the
    /// LM and QA parts with retrieval; both values may be listed. A decoder without a fitted table scores without it.
    /// </summary>
    public List<bool> NeighbourCopy { get; init; } = [true];

    /// <summary>Language modelling on held-out documents (null = skipped).</summary>
    public LmTaskConfig? Lm { get; init; }

    /// <summary>Question answering sets.</summary>
    public List<QaTaskConfig> Qa { get; init; } = [];

    /// <summary>Retrieval sets (BEIR folders or SQuAD gold paragraphs).</summary>
    public List<RetrievalTaskConfig> Retrieval { get; init; } = [];

    /// <summary>JSON options shared by config, parts and results.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Reads a config file and resolves its relative paths against the file's folder.</summary>
    public static EvalConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config '{path}' not found", path);
        var config = JsonSerializer.Deserialize<EvalConfig>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"config '{path}' is empty");
        return config.Resolve(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>This config with every relative path made absolute against <paramref name="baseDir"/>.</summary>
    public EvalConfig Resolve(string baseDir)
    {
        string R(string p) => string.IsNullOrEmpty(p) || Path.IsPathRooted(p) ? p : Path.GetFullPath(Path.Combine(baseDir, p));
        return this with
        {
            Output = R(Output),
            Indexes = string.IsNullOrEmpty(Indexes) ? null : R(Indexes),
            Models = new EvalModels { Encoder = R(Models.Encoder), Decoder = R(Models.Decoder), Reranker = string.IsNullOrEmpty(Models.Reranker) ? null : R(Models.Reranker) },
            Store = Store with { Path = string.IsNullOrEmpty(Store.Path) ? Store.Path : R(Store.Path!) },
            Lm = Lm is null ? null : Lm with { Documents = R(Lm.Documents), Corpus = [.. Lm.Corpus.Select(R)] },
            Qa = [.. Qa.Select(q => q with { Path = R(q.Path) })],
            Retrieval = [.. Retrieval.Select(r => r with { Path = R(r.Path) })],
        };
    }

    /// <summary>The definitions split named <paramref name="split"/> of dataset <paramref name="name"/>.</summary>
    public static Data.DefinitionSplit DefinitionsSplit(string split, string name) => split switch
    {
        "heldout" => Data.DefinitionSplit.HeldOut,
        "train" => Data.DefinitionSplit.Train,
        _ => throw new InvalidDataException($"'{name}': split must be heldout or train, got '{split}'"),
    };

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first bad value.</summary>
    public void Validate()
    {
        if (string.IsNullOrEmpty(Models.Encoder) || string.IsNullOrEmpty(Models.Decoder))
            throw new InvalidDataException("models.encoder and models.decoder are required");
        foreach (var m in Modes)
            if (m is not (Mode.ClosedBook or Mode.Retrieval) && !Mode.IsRerank(m))
                throw new InvalidDataException($"unknown mode '{m}' (closed-book, retrieval, rerank, or rerank:W with a cross-encoder weight W in [0, 1])");
        if (Search.Count == 0) throw new InvalidDataException("search needs at least one of dense, sparse, hybrid");
        foreach (var s in Search)
            if (SearchSide.Parse(s) is null) throw new InvalidDataException($"unknown search '{s}' (dense, sparse, hybrid, or hybrid:W with a dense weight W in [0, 1])");
        if (RetrievalDepth is < 1 or > 1000) throw new InvalidDataException($"retrievalDepth {RetrievalDepth} must be in 1..1000");
        if (Modes.Any(Mode.IsRerank) && string.IsNullOrEmpty(Models.Reranker))
            throw new InvalidDataException("mode 'rerank' needs models.reranker");
        if (K.Count == 0 || K.Any(k => k is < 1 or > 64)) throw new InvalidDataException("k values must be in 1..64");
        if (Candidates.Any(c => c is < 1 or > 1000)) throw new InvalidDataException("candidates must be in 1..1000");
        if (NeighbourCopy.Count == 0) throw new InvalidDataException("neighbourCopy needs true, false or both");
        if (Lm is null && Qa.Count == 0 && Retrieval.Count == 0) throw new InvalidDataException("nothing to evaluate: set lm, qa or retrieval");
        if (Lm is not null)
        {
            if (Lm.MinNeighbourMatch.Count == 0 || Lm.MinNeighbourMatch.Any(g => !(g >= 0 && g <= 1)))
                throw new InvalidDataException("lm.minNeighbourMatch values must be in [0, 1] (0 = no gate)");
            if (Lm.NeighbourTail.Count == 0 || Lm.NeighbourTail.Any(t => t is < 0 or > 64))
                throw new InvalidDataException("lm.neighbourTail values must be in 0..64 tokens (0 = no tail test)");
        }
        foreach (var q in Qa)
        {
            if (q.Format is not ("squad" or "jsonl" or "definitions")) throw new InvalidDataException($"qa '{q.Name}': format must be squad, jsonl or definitions");
            if (q.Format == "definitions") DefinitionsSplit(q.Split, q.Name);
        }
        foreach (var r in Retrieval)
        {
            if (r.Format is not ("beir" or "squad" or "definitions")) throw new InvalidDataException($"retrieval '{r.Name}': format must be beir, squad or definitions");
            if (r.Format == "definitions") DefinitionsSplit(r.Split, r.Name);
        }
        if (Store.Qdrant is { } qdrant)
        {
            var problems = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
            if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(qdrant, new(qdrant), problems, validateAllProperties: true))
                throw new InvalidDataException("store.qdrant: " + string.Join("; ", problems.Select(p => p.ErrorMessage)));
        }
        var names = Qa.Select(q => q.Name).Concat(Retrieval.Select(r => r.Name)).ToList();
        if (names.Distinct().Count() != names.Count) throw new InvalidDataException("dataset names must be unique");
    }
}

/// <summary>Mode names.</summary>
internal static class Mode
{
    public const string ClosedBook = "closed-book", Retrieval = "retrieval", Rerank = "rerank";

    /// <summary>Whether <paramref name="mode"/> reranks: <c>rerank</c> (the cross-encoder's order) or <c>rerank:W</c>.</summary>
    public static bool IsRerank(string mode) => RerankWeight(mode) is not null;

    /// <summary>
    /// The rerank weight of a mode (<see cref="RetrievalOptions.RerankWeight"/>): 1 for <c>rerank</c>, W for
    /// <c>rerank:W</c> (the cross-encoder's rank fused with the first stage's); null for other or malformed modes.
    /// </summary>
    public static float? RerankWeight(string mode)
    {
        if (mode == Rerank) return 1f;
        if (!mode.StartsWith(Rerank + ":", StringComparison.Ordinal)) return null;
        return float.TryParse(mode.AsSpan(Rerank.Length + 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float w)
            && w >= 0f && w <= 1f ? w : null;
    }
}

/// <summary>Candidate search names of the <c>search</c> key.</summary>
internal static class SearchSide
{
    public const string Dense = "dense", Sparse = "sparse", Hybrid = "hybrid";

    /// <summary>The retrieval mode of a search name, or null when unknown.</summary>
    public static RetrievalMode? Parse(string? name) => Options(name)?.Mode;

    /// <summary>
    /// The search of a name as retrieval options (mode, and for <c>hybrid:W</c> or <c>hybrid:W:K</c> the dense weight W and
    /// RRF's k of weighted RRF; plain <c>hybrid</c> weighs both sides alike with k = 60), applied over
    /// <paramref name="baseOptions"/>; null when unknown.
    /// </summary>
    public static RetrievalOptions? Options(string? name, RetrievalOptions? baseOptions = null)
    {
        var o = baseOptions ?? new RetrievalOptions();
        switch (name)
        {
            case Dense: return o with { Mode = RetrievalMode.Dense };
            case Sparse: return o with { Mode = RetrievalMode.Sparse };
            case Hybrid: return o with { Mode = RetrievalMode.Hybrid, Fusion = FusionMethod.Rrf, DenseWeight = 0.5f };
        }
        if (name is null || !name.StartsWith(Hybrid + ":", StringComparison.Ordinal)) return null;
        var parts = name[(Hybrid.Length + 1)..].Split(':');
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (parts.Length > 2 || !float.TryParse(parts[0], System.Globalization.NumberStyles.Float, inv, out float w) || !(w >= 0f && w <= 1f)) return null;
        int k = o.RrfK;
        if (parts.Length == 2 && (!int.TryParse(parts[1], System.Globalization.NumberStyles.None, inv, out k) || k < 1)) return null;
        return o with { Mode = RetrievalMode.Hybrid, Fusion = FusionMethod.Rrf, DenseWeight = w, RrfK = k };
    }
}

/// <summary>Model folders.</summary>
internal sealed record EvalModels
{
    public string Encoder { get; init; } = "";
    public string? Reranker { get; init; }
    public string Decoder { get; init; } = "";
}

/// <summary>Where indexes live: <c>Embedded</c> (built under the output folder; <c>path</c> = an existing store for
/// collection scope) or <c>Qdrant</c> (<c>qdrantUrl</c>, <c>collection</c> for collection scope; built indexes go to
/// collections named <c>eval-{hash}</c>; <c>qdrant</c>: the gRPC port, TLS and client settings of
/// <c>Retro:VectorStore:Qdrant</c>, camelCase).</summary>
internal sealed record EvalStore
{
    public VectorStoreProvider Provider { get; init; } = VectorStoreProvider.Embedded;
    public string? Path { get; init; }
    public string QdrantUrl { get; init; } = "http://localhost:6333";
    public string? ApiKey { get; init; }
    public string Collection { get; init; } = "retro";
    /// <summary>Qdrant client settings (null = the defaults).</summary>
    public QdrantOptions? Qdrant { get; init; }

    /// <summary>The Qdrant settings in effect.</summary>
    [JsonIgnore]
    public QdrantOptions QdrantOptions => Qdrant ?? new QdrantOptions();

    /// <summary>The store options of collection <paramref name="collection"/> (embedded: in <paramref name="path"/>).</summary>
    public VectorStoreOptions Options(string path, string collection) => new()
    {
        Provider = Provider,
        Path = path,
        QdrantUrl = QdrantUrl,
        ApiKey = ApiKey,
        Collection = collection,
    };
}

/// <summary>Language modelling: held-out documents scored by bits-per-byte.</summary>
internal sealed record LmTaskConfig
{
    /// <summary>C4-style JSON lines of the held-out documents.</summary>
    public string Documents { get; init; } = "";
    /// <summary>How many documents are scored (the first ones after <see cref="Skip"/>).</summary>
    public int Limit { get; init; } = 20;
    public int Skip { get; init; }
    /// <summary>More C4-style files indexed with the scored documents (the retrieval corpus).</summary>
    public List<string> Corpus { get; init; } = [];
    /// <summary>Documents of <see cref="Corpus"/> indexed per file (0 = all).</summary>
    public int CorpusLimit { get; init; } = 200;
    /// <summary>Window length in tokens (0 = the decoder's max_seq_len), rounded down to whole chunks.</summary>
    public int Context { get; init; }
    /// <summary>Whether the scored document's own chunks are excluded from its retrieval; both values may be listed.</summary>
    public List<bool> ExcludeOwnDocument { get; init; } = [true, false];
    /// <summary>
    /// The neighbour gates scored (<see cref="Core.Options.RetrievalOptions.MinNeighbourMatch"/>), one part each: 0 = every
    /// neighbour is read. The overlap buckets always measure the retrieved neighbours, read or not.
    /// </summary>
    public List<double> MinNeighbourMatch { get; init; } = [0];
    /// <summary>
    /// The gate's tail tests scored (<see cref="Core.Options.RetrievalOptions.NeighbourTail"/>, tokens), each with every
    /// gate of <see cref="MinNeighbourMatch"/>: 0 = no tail test.
    /// </summary>
    public List<int> NeighbourTail { get; init; } = [0];
}

/// <summary>A question-answering set.</summary>
internal sealed record QaTaskConfig
{
    public string Name { get; init; } = "qa";
    /// <summary><c>squad</c> (v1.1/v2.0 JSON) or <c>jsonl</c> (question/answers lines).</summary>
    public string Format { get; init; } = "squad";
    public string Path { get; init; } = "";
    public int Limit { get; init; } = 50;
    /// <summary><c>dataset</c>: retrieve from the set's own passages (SQuAD paragraphs); <c>collection</c>: from the configured store.</summary>
    public string Scope { get; init; } = "dataset";
    /// <summary>New tokens at most per answer.</summary>
    public int MaxTokens { get; init; } = 24;
    /// <summary><c>definitions</c> only: <c>heldout</c> (evaluation) or <c>train</c> entries (see <see cref="Data.Definitions"/>).</summary>
    public string Split { get; init; } = "heldout";
    /// <summary>
    /// Whether an answer ends at its first newline (SQuAD's one-line spans). Unset: yes, except for <c>definitions</c>,
    /// whose answers are an entry's first sentence, which dictionaries wrap over lines; the decoder ends them itself.
    /// </summary>
    public bool? StopAtNewline { get; init; }

    /// <summary><see cref="StopAtNewline"/> resolved for <see cref="Format"/>.</summary>
    public bool CutsAtNewline => StopAtNewline ?? Format != "definitions";
}

/// <summary>A retrieval set: BEIR folder or SQuAD (gold paragraph).</summary>
internal sealed record RetrievalTaskConfig
{
    public string Name { get; init; } = "retrieval";
    /// <summary><c>beir</c> or <c>squad</c>.</summary>
    public string Format { get; init; } = "beir";
    public string Path { get; init; } = "";
    public int Limit { get; init; } = 100;
    /// <summary><c>definitions</c> only: <c>heldout</c> (evaluation) or <c>train</c> entries.</summary>
    public string Split { get; init; } = "heldout";
}
