using Retro.Core;
using Retro.Tokenizers;

namespace Retro.Engine.Onnx;

/// <summary>
/// <see cref="IReranker"/> over a cross-encoder folder's ONNX export: <c>[CLS] query [SEP] candidate [SEP]</c> pairs
/// (as <see cref="Bert.BertReranker"/> builds them) scored by ONNX Runtime, raw logits. Thread-safe.
/// </summary>
public sealed class OnnxReranker : IReranker, IDisposable
{
    private readonly OnnxBertModel _model;

    private OnnxReranker(OnnxBertModel model) => _model = model;

    /// <summary>Loads a cross-encoder folder and its export on <paramref name="factory"/>'s device.</summary>
    public static OnnxReranker Load(string folder, OnnxSessionFactory factory, int maxBatch = 32, int? maxLength = null) =>
        new(new OnnxBertModel(folder, factory, crossEncoder: true, maxBatch, maxLength));

    /// <inheritdoc />
    public string ModelId => _model.Export.ModelId;

    /// <summary>Tokens per pair at most, special tokens included.</summary>
    public int MaxLength => _model.MaxLength;

    /// <inheritdoc />
    public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
    {
        var inputs = Bert.BertInputs.Pairs(_model.Tokenizer, query, candidates, MaxLength, scores.Length);
        _model.Run(inputs, "scores", 1, scores);
    }

    /// <summary>Scores already tokenized pairs; for parity tests and benchmarks.</summary>
    public void Score(IReadOnlyList<ModelInput> pairs, Span<float> scores) => _model.Run(pairs, "scores", 1, scores);

    /// <summary>Releases the session.</summary>
    public void Dispose() => _model.Dispose();
}
