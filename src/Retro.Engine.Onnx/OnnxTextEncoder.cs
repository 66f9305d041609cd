using Retro.Core;
using Retro.Tokenizers;

namespace Retro.Engine.Onnx;

/// <summary>
/// <see cref="ITextEncoder"/> over a BERT bi-encoder folder's ONNX export (<c>onnx/encoder.onnx</c>), run by ONNX Runtime:
/// the same tokenization (<c>[CLS] text [SEP]</c>, truncated), length-sorted batches and pooling as
/// <see cref="Bert.BertTextEncoder"/> (the graph pools and normalises). Thread-safe.
/// </summary>
public sealed class OnnxTextEncoder : ITextEncoder, IDisposable
{
    private readonly OnnxBertModel _model;

    private OnnxTextEncoder(OnnxBertModel model) => _model = model;

    /// <summary>
    /// Loads <paramref name="folder"/> (config.json, tokenizer.json, model.safetensors and its export in onnx/) on
    /// <paramref name="factory"/>'s device; <paramref name="maxBatch"/> texts per run, each at most
    /// <paramref name="maxLength"/> tokens (default: max positions); <paramref name="tokenizer"/> replaces the folder's.
    /// </summary>
    public static OnnxTextEncoder Load(string folder, OnnxSessionFactory factory, int maxBatch = 32, int? maxLength = null, Tokenizer? tokenizer = null) =>
        new(new OnnxBertModel(folder, factory, crossEncoder: false, maxBatch, maxLength, tokenizer));

    /// <inheritdoc />
    public int Dimension => _model.Config.HiddenSize;

    /// <inheritdoc />
    public string ModelId => _model.Export.ModelId;

    /// <summary>Tokens per text at most, [CLS] and [SEP] included.</summary>
    public int MaxLength => _model.MaxLength;

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
    {
        int d = Dimension;
        var inputs = Bert.BertInputs.Texts(_model.Tokenizer, texts, MaxLength, d, destination.Length);
        _model.Run(inputs, "embeddings", d, destination);
    }

    /// <summary>Embeds already tokenized inputs (ids, type ids, mask as the tokenizer gives them); for parity tests and benchmarks.</summary>
    public void Encode(IReadOnlyList<ModelInput> inputs, Span<float> destination) => _model.Run(inputs, "embeddings", Dimension, destination);

    /// <summary>Releases the session.</summary>
    public void Dispose() => _model.Dispose();
}
