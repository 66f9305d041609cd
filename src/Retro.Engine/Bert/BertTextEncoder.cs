using Retro.Core;
using Retro.Engine.Checkpoints;
using Retro.Tokenizers;

namespace Retro.Engine.Bert;

/// <summary>
/// <see cref="ITextEncoder"/> over a BERT bi-encoder folder: tokenizes each text as <c>[CLS] text [SEP]</c> with the
/// folder's tokenizer (truncated to the maximum length), batches by length, embeds (mean or CLS pooling, L2-normalised
/// as configured). Thread-safe: concurrent callers get their own run states.
/// </summary>
public sealed class BertTextEncoder : ITextEncoder, IDisposable
{
    private readonly BertEncoder _encoder;
    private readonly Tokenizer _tokenizer;
    private readonly BertBatchRunner _runner;

    /// <summary>
    /// Wraps a loaded encoder (owned: disposed with this) and its tokenizer. <paramref name="maxBatch"/> sequences run
    /// per pass; texts are truncated to <paramref name="maxLength"/> tokens (default and upper bound: max positions).
    /// </summary>
    public BertTextEncoder(BertEncoder encoder, Tokenizer tokenizer, string modelId, int maxBatch = 32, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        if (encoder.Config.IsCrossEncoder)
            throw new ArgumentException("a cross-encoder (BertForSequenceClassification) cannot embed texts; use BertReranker", nameof(encoder));
        TokenizerFit.Check(tokenizer.VocabularySize, encoder.Config.VocabSize, encoder.Folder?.Path);
        int length = maxLength ?? encoder.Config.MaxPositions;
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 3, nameof(maxLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, encoder.Config.MaxPositions, nameof(maxLength));
        _encoder = encoder;
        _tokenizer = tokenizer;
        ModelId = modelId;
        MaxLength = length;
        _runner = new BertBatchRunner(encoder, maxBatch, length, tokenizer.PadId ?? encoder.Config.PadTokenId);
    }

    /// <summary>Loads a bi-encoder folder (config.json, model.safetensors, tokenizer.json) onto <paramref name="backend"/>.</summary>
    public static BertTextEncoder Load(string folder, IBackend backend, int maxBatch = 32, int? maxLength = null)
    {
        var encoder = BertEncoder.Load(folder, backend);
        try
        {
            var model = encoder.Folder!;
            return new BertTextEncoder(encoder, model.Tokenizer, model.ComputeModelId(), maxBatch, maxLength);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public int Dimension => _encoder.Config.HiddenSize;

    /// <inheritdoc />
    public string ModelId { get; }

    /// <summary>Tokens per text at most, [CLS] and [SEP] included.</summary>
    public int MaxLength { get; }

    /// <summary>The underlying encoder.</summary>
    public BertEncoder Encoder => _encoder;

    /// <inheritdoc />
    public void Encode(ReadOnlySpan<string> texts, Span<float> destination)
    {
        int d = Dimension;
        var inputs = BertInputs.Texts(_tokenizer, texts, MaxLength, d, destination.Length);
        var result = new float[texts.Length * d];
        _runner.Run(inputs, (lease, members, length) =>
        {
            _encoder.Pool(lease.State, members.Length, length, lease.Output);
            for (int j = 0; j < members.Length; j++)
                lease.Output.AsSpan(j * d, d).CopyTo(result.AsSpan(members[j] * d, d));
        });
        result.CopyTo(destination);
    }

    /// <summary>Frees run states and unmaps the model.</summary>
    public void Dispose()
    {
        _runner.Dispose();
        _encoder.Dispose();
    }
}
