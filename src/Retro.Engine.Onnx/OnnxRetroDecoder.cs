using Microsoft.ML.OnnxRuntime;
using Retro.Core;
using Retro.Engine.Checkpoints;
using Retro.Engine.Generation;
using Retro.Engine.Retro;
using Retro.Tokenizers;

namespace Retro.Engine.Onnx;

/// <summary>
/// <see cref="IRetroDecoder"/> on ONNX Runtime: a RETRO folder's export (<c>onnx/decoder_lower.onnx</c>,
/// <c>decoder_upper.onnx</c>, <c>neighbour_encoder.onnx</c>; docs/model-format.md, "ONNX export") in three sessions.
/// A feed runs the layers below min(cca_layers), then, when its first token completes chunk u, the neighbour encoder
/// on H_u (whose CCA keys and values stay in the session's buffers for the next m positions), then the layers from
/// min(cca_layers) on. Every session keeps its self-attention KV cache in native buffers that the graphs read and write
/// in place through IOBinding (the past as an OrtValue view of the rows so far, the new rows bound as outputs at the
/// rows they belong to): nothing is copied between steps. With <c>batchCapacity</c> &gt; 1 concurrent single-token
/// steps run as one batch (<see cref="StepBatcher{TSession}"/>; see <see cref="OnnxSegmentBatchRunner"/>).
/// Thread-safe (sessions are independent).
/// </summary>
public sealed class OnnxRetroDecoder : IRetroDecoder, IDisposable
{
    private readonly StepBatcher<OnnxRetroSession>? _batcher;
    private long _encodedNeighbours, _encodedRows;

    private OnnxRetroDecoder(RetroConfig config, OnnxExport export, ITokenizer tokenizer, OnnxSessionFactory factory, int maxNeighbours, int batchCapacity)
    {
        Config = config;
        Tokenizer = tokenizer;
        ModelId = export.ModelId;
        MaxNeighbours = maxNeighbours;
        Device = factory.Device;
        int first = config.FirstCcaLayer;
        LowerPast = PastNames("past", 0, first);
        LowerNew = PastNames("new", 0, first);
        UpperPast = PastNames("past", first, config.NLayers);
        UpperNew = PastNames("new", first, config.NLayers);
        CcaNames = new string[2 * config.CcaLayers.Count];
        for (int c = 0; c < config.CcaLayers.Count; c++) (CcaNames[2 * c], CcaNames[2 * c + 1]) = ($"cca_key_{c}", $"cca_value_{c}");
        try
        {
            Lower = factory.Create(export.Graph("decoder_lower"));
            Upper = factory.Create(export.Graph("decoder_upper"));
            Encoder = factory.Create(export.Graph("neighbour_encoder"));
        }
        catch
        {
            Lower?.Dispose();
            Upper?.Dispose();
            throw;
        }
        if (batchCapacity > 1) _batcher = new StepBatcher<OnnxRetroSession>(new OnnxSegmentBatchRunner(this, batchCapacity));
    }

    /// <summary>
    /// Loads <paramref name="folder"/> (config.json, tokenizer.json, model.safetensors and its export in onnx/) on
    /// <paramref name="factory"/>'s device. <paramref name="maxNeighbours"/> bounds k per chunk (default: 8 or the model's
    /// num_neighbours, whichever is larger); <paramref name="batchCapacity"/> &gt; 1 batches concurrent steps;
    /// <paramref name="tokenizer"/> replaces the folder's tokenizer.json.
    /// </summary>
    /// <exception cref="OnnxExportException">The export is missing, stale, or was made for the other cca_positions.</exception>
    public static OnnxRetroDecoder Load(string folder, OnnxSessionFactory factory, int? maxNeighbours = null, int batchCapacity = 1, ITokenizer? tokenizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchCapacity, 1);
        string configPath = Path.Combine(folder, ModelFolder.ConfigFileName);
        RetroConfig config;
        try { config = RetroConfig.Load(configPath); }
        catch (InvalidDataException e) { throw new CheckpointFormatException(configPath, null, e.Message, e); }
        if (config.CcaLayers.Count == 0) throw new OnnxExportException(folder, "the ONNX graphs need at least one CCA layer (cca_layers is empty)");
        var export = OnnxExport.Open(folder, "retro");
        string positions = config.CcaRope ? "rope" : "none";
        if (export.CcaPositions != positions)
            throw new OnnxExportException(folder, $"the export has cca_positions '{export.CcaPositions}' but config.json means '{positions}'");
        tokenizer ??= TokenizerLoader.FromFolder(folder);
        TokenizerFit.Check(tokenizer.VocabularySize, config.VocabSize, folder);
        int k = maxNeighbours ?? Math.Max(8, config.NumNeighbours);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1, nameof(maxNeighbours));
        return new OnnxRetroDecoder(config, export, tokenizer, factory, k, batchCapacity);
    }

    /// <summary>The architecture (config.json).</summary>
    public RetroConfig Config { get; }

    /// <summary>The execution provider the sessions run on.</summary>
    public OnnxDevice Device { get; }

    /// <summary>Most neighbours a session takes per chunk; more are dropped (the best come first).</summary>
    public int MaxNeighbours { get; }

    /// <inheritdoc />
    public string ModelId { get; }

    /// <inheritdoc />
    public ITokenizer Tokenizer { get; }

    /// <inheritdoc />
    public int ChunkSize => Config.ChunkSize;

    /// <inheritdoc />
    public int NeighbourLength => Config.NeighbourLen;

    /// <inheritdoc />
    public int MaxSequenceLength => Config.MaxSeqLen;

    /// <inheritdoc />
    public int VocabularySize => Config.VocabSize;

    /// <inheritdoc />
    public int EosTokenId => Config.EosTokenId;

    /// <inheritdoc />
    public int PadTokenId => Config.PadTokenId;

    /// <inheritdoc />
    public global::Retro.Engine.Retro.QuestionLayout QuestionLayout => Config.QuestionLayout;

    /// <inheritdoc />
    public int QuestionNeighbours => Config.QuestionNeighbours;

    /// <inheritdoc />
    public global::Retro.Engine.Retro.NeighbourCopy? NeighbourCopy => Config.NeighbourCopy;

    /// <summary>Single-token steps and the batched calls that ran them (both 0 without batching).</summary>
    public (long Steps, long Batches) BatchCounts => _batcher?.Counts ?? (0, 0);

    /// <summary>Token rows the batched calls fed, and the Stopwatch ticks spent in them (both 0 without batching).</summary>
    public (long Rows, long BusyTicks) BatchWork => _batcher?.Work ?? (0, 0);

    /// <summary>Neighbours encoded so far, and the token rows they took (each neighbour padded to the longest of its chunk).</summary>
    public (long Neighbours, long Rows) EncodedNeighbours => (Interlocked.Read(ref _encodedNeighbours), Interlocked.Read(ref _encodedRows));

    internal InferenceSession Lower { get; }
    internal InferenceSession Upper { get; }
    internal InferenceSession Encoder { get; }
    internal string[] LowerPast { get; }
    internal string[] LowerNew { get; }
    internal string[] UpperPast { get; }
    internal string[] UpperNew { get; }
    internal string[] CcaNames { get; }

    /// <inheritdoc />
    public IRetroDecoderSession CreateSession() => new OnnxRetroSession(this, _batcher);

    internal void CountEncoded(int neighbours, int rows)
    {
        Interlocked.Add(ref _encodedNeighbours, neighbours);
        Interlocked.Add(ref _encodedRows, rows);
    }

    /// <summary>Releases the three sessions (sessions of this decoder must be disposed first).</summary>
    public void Dispose()
    {
        _batcher?.Dispose();
        Lower.Dispose();
        Upper.Dispose();
        Encoder.Dispose();
    }

    private static string[] PastNames(string prefix, int from, int to)
    {
        var names = new string[2 * (to - from)];
        for (int i = from; i < to; i++) (names[2 * (i - from)], names[2 * (i - from) + 1]) = ($"{prefix}_key_{i}", $"{prefix}_value_{i}");
        return names;
    }
}
