using System.Security.Cryptography;
using System.Text.Json;
using Retro.Tokenizers;

namespace Retro.Engine.Checkpoints;

/// <summary>
/// An open model folder: <c>config.json</c> (parsed, <c>format_version</c> checked), <c>model.safetensors</c>
/// (memory-mapped) and, on demand, <c>tokenizer.json</c>. Disposing unmaps the weights, so models built from it
/// must not outlive it. Problems throw <see cref="CheckpointFormatException"/> naming the file and the key.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    /// <summary>The format version this engine reads (docs/model-format.md).</summary>
    public const int SupportedFormatVersion = 1;

    /// <summary>File names inside a model folder.</summary>
    public const string ConfigFileName = "config.json", WeightsFileName = "model.safetensors", TokenizerFileName = "tokenizer.json";

    private readonly JsonDocument _config;
    private Tokenizer? _tokenizer;

    private ModelFolder(string path, JsonDocument config, SafetensorsFile weights, string modelType, int formatVersion)
    {
        Path = path;
        _config = config;
        Weights = weights;
        ModelType = modelType;
        FormatVersion = formatVersion;
    }

    /// <summary>The folder's path.</summary>
    public string Path { get; }

    /// <summary>The root object of <c>config.json</c> (valid until disposed).</summary>
    public JsonElement Config => _config.RootElement;

    /// <summary>Path of <c>config.json</c>, for error messages.</summary>
    public string ConfigPath => System.IO.Path.Combine(Path, ConfigFileName);

    /// <summary><c>model_type</c> (<c>bert</c>, <c>retro</c>, …).</summary>
    public string ModelType { get; }

    /// <summary><c>format_version</c> (1 when absent, as in third-party checkpoints).</summary>
    public int FormatVersion { get; }

    /// <summary>The mapped weights.</summary>
    public SafetensorsFile Weights { get; }

    /// <summary>The folder's tokenizer (<c>tokenizer.json</c>, or <c>vocab.txt</c>), loaded on first use.</summary>
    public Tokenizer Tokenizer
    {
        get
        {
            if (_tokenizer is not null) return _tokenizer;
            try
            {
                return _tokenizer = TokenizerLoader.FromFolder(Path);
            }
            catch (Exception e) when (e is FileNotFoundException or TokenizerFormatException)
            {
                throw new CheckpointFormatException(System.IO.Path.Combine(Path, TokenizerFileName), null, e.Message, e);
            }
        }
    }

    /// <summary>Opens <paramref name="path"/>; <paramref name="expectedModelType"/>, when given, must equal <c>model_type</c>.</summary>
    public static ModelFolder Open(string path, string? expectedModelType = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"model folder '{path}' does not exist");
        string configPath = System.IO.Path.Combine(path, ConfigFileName);
        if (!File.Exists(configPath)) throw new CheckpointFormatException(path, null, $"no {ConfigFileName} in the model folder");
        string weightsPath = System.IO.Path.Combine(path, WeightsFileName);
        if (!File.Exists(weightsPath)) throw new CheckpointFormatException(path, null, $"no {WeightsFileName} in the model folder");

        JsonDocument config;
        try
        {
            config = JsonDocument.Parse(File.ReadAllBytes(configPath));
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(configPath, null, $"not valid JSON ({e.Message})", e);
        }
        try
        {
            var root = config.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new CheckpointFormatException(configPath, null, "not a JSON object");
            string modelType = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String
                ? mt.GetString()!
                : throw new CheckpointFormatException(configPath, "model_type", "missing or not a string");
            if (expectedModelType is not null && modelType != expectedModelType)
                throw new CheckpointFormatException(configPath, "model_type", $"is '{modelType}', expected '{expectedModelType}'");
            int version = 1;
            if (root.TryGetProperty("format_version", out var fv) && (!fv.TryGetInt32(out version) || version != SupportedFormatVersion))
                throw new CheckpointFormatException(configPath, "format_version", $"is {fv.GetRawText()}; this engine reads version {SupportedFormatVersion}");
            var weights = SafetensorsFile.Open(weightsPath);
            return new ModelFolder(path, config, weights, modelType, version);
        }
        catch
        {
            config.Dispose();
            throw;
        }
    }

    /// <summary>"folder@hash": the folder's name and the first 12 hex digits of the SHA-256 of the weights file.</summary>
    public unsafe string ComputeModelId()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte* start = (byte*)Weights.BaseAddress;
        for (long offset = 0; offset < Weights.Length; offset += 1 << 30)
        {
            int count = (int)Math.Min(1 << 30, Weights.Length - offset);
            sha.AppendData(new ReadOnlySpan<byte>(start + offset, count));
        }
        string name = new DirectoryInfo(Path).Name;
        return $"{name}@{Convert.ToHexStringLower(sha.GetHashAndReset())[..12]}";
    }

    /// <summary>Unmaps the weights.</summary>
    public void Dispose()
    {
        Weights.Dispose();
        _config.Dispose();
    }
}
