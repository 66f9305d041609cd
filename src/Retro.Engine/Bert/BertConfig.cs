using System.Text.Json;
using Retro.Engine.Checkpoints;

namespace Retro.Engine.Bert;

/// <summary>How a bi-encoder turns hidden states into one vector.</summary>
public enum BertPooling
{
    /// <summary>Mean over positions with attention mask 1.</summary>
    Mean,
    /// <summary>The hidden state of the first token ([CLS]).</summary>
    Cls,
}

/// <summary>
/// Architecture of a BERT encoder (<c>model_type</c> = <c>bert</c>) read from Hugging Face's <c>config.json</c> keys
/// (docs/model-format.md). Post-LayerNorm BERT as Hugging Face's <c>BertModel</c>.
/// </summary>
public sealed record BertConfig
{
    /// <summary>V: rows of the word embedding table (<c>vocab_size</c>).</summary>
    public required int VocabSize { get; init; }

    /// <summary>H: model width (<c>hidden_size</c>).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Transformer layers (<c>num_hidden_layers</c>).</summary>
    public required int Layers { get; init; }

    /// <summary>Attention heads; H must divide by it (<c>num_attention_heads</c>).</summary>
    public required int Heads { get; init; }

    /// <summary>I: feed-forward width (<c>intermediate_size</c>).</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>P: longest input in tokens, rows of the position table (<c>max_position_embeddings</c>).</summary>
    public required int MaxPositions { get; init; }

    /// <summary>T: rows of the token-type table (<c>type_vocab_size</c>).</summary>
    public int TypeVocabSize { get; init; } = 2;

    /// <summary>LayerNorm epsilon (<c>layer_norm_eps</c>, 1e-12 in HF BERT).</summary>
    public float LayerNormEps { get; init; } = 1e-12f;

    /// <summary>True for <c>BertForSequenceClassification</c>: pooler + classifier give one score per input.</summary>
    public bool IsCrossEncoder { get; init; }

    /// <summary>Classifier outputs (<c>num_labels</c>, cross-encoder only; this engine scores with 1).</summary>
    public int NumLabels { get; init; } = 1;

    /// <summary>Bi-encoder pooling (<c>retro_pooling</c>: <c>mean</c> default, or <c>cls</c>).</summary>
    public BertPooling Pooling { get; init; } = BertPooling.Mean;

    /// <summary>Bi-encoder: L2-normalise the pooled vector (<c>retro_normalize</c>, default true).</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Padding id, used for positions past a sequence's end (<c>pad_token_id</c>, default 0).</summary>
    public int PadTokenId { get; init; }

    /// <summary>Values per head, H / heads.</summary>
    public int HeadDim => HiddenSize / Heads;

    /// <summary>Reads and validates the config of <paramref name="folder"/>.</summary>
    public static BertConfig FromFolder(ModelFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (folder.ModelType != "bert")
            throw new CheckpointFormatException(folder.ConfigPath, "model_type", $"is '{folder.ModelType}', expected 'bert'");
        return FromJson(folder.Config, folder.ConfigPath);
    }

    /// <summary>Reads and validates a config object; <paramref name="path"/> names it in errors.</summary>
    public static BertConfig FromJson(JsonElement root, string path)
    {
        bool cross = false;
        if (root.TryGetProperty("architectures", out var arch) && arch.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in arch.EnumerateArray())
            {
                string? name = a.GetString();
                if (name == "BertForSequenceClassification") cross = true;
                else if (name != "BertModel")
                    throw new CheckpointFormatException(path, "architectures", $"'{name}' is not supported (BertModel or BertForSequenceClassification)");
            }
        }
        string pooling = String(root, "retro_pooling", path) ?? "mean";
        var config = new BertConfig
        {
            VocabSize = Int(root, "vocab_size", path),
            HiddenSize = Int(root, "hidden_size", path),
            Layers = Int(root, "num_hidden_layers", path),
            Heads = Int(root, "num_attention_heads", path),
            IntermediateSize = Int(root, "intermediate_size", path),
            MaxPositions = Int(root, "max_position_embeddings", path),
            TypeVocabSize = Int(root, "type_vocab_size", path, 2),
            LayerNormEps = (float)Double(root, "layer_norm_eps", path, 1e-12),
            IsCrossEncoder = cross,
            NumLabels = Int(root, "num_labels", path, 1),
            Pooling = pooling switch
            {
                "mean" => BertPooling.Mean,
                "cls" => BertPooling.Cls,
                _ => throw new CheckpointFormatException(path, "retro_pooling", $"'{pooling}' is not 'mean' or 'cls'"),
            },
            Normalize = !root.TryGetProperty("retro_normalize", out var n) || n.ValueKind != JsonValueKind.False,
            PadTokenId = Int(root, "pad_token_id", path, 0),
        };
        string act = String(root, "hidden_act", path) ?? "gelu";
        if (act != "gelu") throw new CheckpointFormatException(path, "hidden_act", $"'{act}' is not supported (exact 'gelu' only)");
        Check(config.VocabSize > 0, path, "vocab_size", "must be positive");
        Check(config.HiddenSize > 0 && config.Heads > 0 && config.HiddenSize % config.Heads == 0, path, "num_attention_heads", "must divide hidden_size");
        Check(config.Layers > 0, path, "num_hidden_layers", "must be positive");
        Check(config.IntermediateSize > 0, path, "intermediate_size", "must be positive");
        Check(config.MaxPositions > 0, path, "max_position_embeddings", "must be positive");
        Check(config.TypeVocabSize > 0, path, "type_vocab_size", "must be positive");
        Check(config.LayerNormEps >= 0, path, "layer_norm_eps", "must be non-negative");
        Check(!cross || config.NumLabels == 1, path, "num_labels", "must be 1 for a cross-encoder");
        Check(config.PadTokenId >= 0 && config.PadTokenId < config.VocabSize, path, "pad_token_id", "must be a vocabulary id");
        return config;
    }

    private static void Check(bool condition, string path, string key, string problem)
    {
        if (!condition) throw new CheckpointFormatException(path, key, problem);
    }

    private static int Int(JsonElement root, string key, string path, int? fallback = null)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
            return fallback ?? throw new CheckpointFormatException(path, key, "missing");
        return v.TryGetInt32(out int i) ? i : throw new CheckpointFormatException(path, key, $"{v.GetRawText()} is not an integer");
    }

    private static double Double(JsonElement root, string key, string path, double fallback)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        return v.TryGetDouble(out double d) ? d : throw new CheckpointFormatException(path, key, $"{v.GetRawText()} is not a number");
    }

    private static string? String(JsonElement root, string key, string path)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new CheckpointFormatException(path, key, "is not a string");
    }
}
