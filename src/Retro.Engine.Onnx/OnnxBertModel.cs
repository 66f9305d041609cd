using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Retro.Engine.Bert;
using Retro.Engine.Checkpoints;
using Retro.Tokenizers;

namespace Retro.Engine.Onnx;

/// <summary>
/// A BERT folder's <c>encoder.onnx</c> in one ONNX Runtime session, with the folder's config and tokenizer: tokenized
/// inputs sorted by length into batches padded to their longest member (as the managed engine batches), one run per
/// batch, one output row per input. Thread-safe (ONNX Runtime runs concurrent calls; buffers are per call).
/// </summary>
internal sealed class OnnxBertModel : IDisposable
{
    private static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];

    public OnnxBertModel(string folder, OnnxSessionFactory factory, bool crossEncoder, int maxBatch, int? maxLength, Tokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        string configPath = Path.Combine(folder, ModelFolder.ConfigFileName);
        using (var doc = JsonDocument.Parse(File.ReadAllBytes(configPath))) Config = BertConfig.FromJson(doc.RootElement, configPath);
        if (Config.IsCrossEncoder != crossEncoder)
            throw new ArgumentException(crossEncoder
                ? $"{folder}: the model has no classifier head (architectures must be BertForSequenceClassification)"
                : $"{folder}: a cross-encoder (BertForSequenceClassification) cannot embed texts", nameof(folder));
        Export = OnnxExport.Open(folder, "bert");
        Tokenizer = tokenizer ?? TokenizerLoader.FromFolder(folder);
        TokenizerFit.Check(Tokenizer.VocabularySize, Config.VocabSize, folder);
        MaxLength = maxLength ?? Config.MaxPositions;
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxLength, crossEncoder ? 5 : 3, nameof(maxLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxLength, Config.MaxPositions, nameof(maxLength));
        MaxBatch = maxBatch;
        PadId = Tokenizer.PadId ?? Config.PadTokenId;
        Session = factory.Create(Export.Graph("encoder"));
    }

    public BertConfig Config { get; }
    public OnnxExport Export { get; }
    public Tokenizer Tokenizer { get; }
    public InferenceSession Session { get; }
    public int MaxLength { get; }
    public int MaxBatch { get; }
    public int PadId { get; }

    /// <summary>
    /// Runs <paramref name="inputs"/> and writes output <paramref name="output"/> (<paramref name="width"/> values per input:
    /// H for "embeddings", 1 for "scores") for input i at <paramref name="result"/>[i·width..].
    /// </summary>
    public void Run(IReadOnlyList<ModelInput> inputs, string output, int width, Span<float> result)
    {
        if (inputs.Count == 0) return;
        var order = new int[inputs.Count];
        var lengths = new int[inputs.Count];
        for (int i = 0; i < order.Length; i++) (order[i], lengths[i]) = (i, inputs[i].Length);
        Array.Sort(lengths, order);
        int longest = lengths[^1];
        var ids = new long[MaxBatch * longest];
        var mask = new long[ids.Length];
        var types = new long[ids.Length];
        var rows = new float[MaxBatch * width];
        using var runOptions = new RunOptions();
        for (int start = 0; start < order.Length; start += MaxBatch)
        {
            int batch = Math.Min(MaxBatch, order.Length - start), length = lengths[start + batch - 1];
            for (int j = 0; j < batch; j++)
            {
                var input = inputs[order[start + j]];
                int at = j * length;
                for (int t = 0; t < length; t++)
                {
                    bool real = t < input.Length;
                    ids[at + t] = real ? input.InputIds[t] : PadId;
                    mask[at + t] = real ? input.AttentionMask[t] : 0;
                    types[at + t] = real ? input.TypeIds[t] : 0;
                }
            }
            long[] shape = [batch, length];
            using var idsValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ids.AsMemory(0, batch * length), shape);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, mask.AsMemory(0, batch * length), shape);
            using var typesValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, types.AsMemory(0, batch * length), shape);
            using var outValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, rows.AsMemory(0, batch * width),
                width == 1 ? [batch] : [batch, width]);
            Session.Run(runOptions, InputNames, [idsValue, maskValue, typesValue], [output], [outValue]);
            for (int j = 0; j < batch; j++) rows.AsSpan(j * width, width).CopyTo(result.Slice(order[start + j] * width, width));
        }
    }

    public void Dispose() => Session.Dispose();
}
