using System.Security.Cryptography;
using System.Text.Json;

namespace Retro.Engine.Onnx;

/// <summary>
/// A model folder's ONNX export (<c>FOLDER/onnx/onnx.json</c> and the graphs it names, written by
/// src/training/export_onnx.py; contract: docs/model-format.md, "ONNX export"). Opening checks the manifest's
/// format, the model type, that every graph exists, and that the export was made from the folder's current
/// <c>model.safetensors</c> (SHA-256), so a stale export fails at load instead of answering with old weights.
/// </summary>
internal sealed class OnnxExport
{
    public const string Folder = "onnx", Manifest = "onnx.json";
    public const int SupportedVersion = 1;

    private readonly Dictionary<string, string> _graphs;

    private OnnxExport(string modelFolder, string directory, JsonElement root, Dictionary<string, string> graphs, string sha256)
    {
        ModelFolder = modelFolder;
        Directory = directory;
        _graphs = graphs;
        Sha256 = sha256;
        CcaPositions = root.TryGetProperty("cca_positions", out var p) ? p.GetString() : null;
    }

    /// <summary>The model folder (config.json, model.safetensors, tokenizer.json).</summary>
    public string ModelFolder { get; }

    /// <summary>The export's folder.</summary>
    public string Directory { get; }

    /// <summary>Lower-case hex SHA-256 of model.safetensors (checked equal to the manifest's).</summary>
    public string Sha256 { get; }

    /// <summary>RETRO exports: "rope" or "none".</summary>
    public string? CcaPositions { get; }

    /// <summary>"name@hash": the folder's name and 12 hex digits of the weights' SHA-256 (as the managed engine names it).</summary>
    public string ModelId => $"{new DirectoryInfo(ModelFolder).Name}@{Sha256[..12]}";

    /// <summary>Path of graph <paramref name="key"/> (e.g. "encoder", "decoder_lower").</summary>
    public string Graph(string key) => _graphs.TryGetValue(key, out var path)
        ? path
        : throw new OnnxExportException(ModelFolder, $"the export has no '{key}' graph");

    /// <summary>Opens and checks the export of <paramref name="modelFolder"/> (model_type <paramref name="modelType"/>).</summary>
    public static OnnxExport Open(string modelFolder, string modelType)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelFolder);
        string directory = Path.Combine(modelFolder, Folder), manifest = Path.Combine(directory, Manifest);
        if (!File.Exists(manifest)) throw new OnnxExportException(modelFolder, $"no ONNX export ({Folder}/{Manifest})");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(manifest));
        var root = doc.RootElement;
        int version = root.TryGetProperty("format_version", out var v) ? v.GetInt32() : 0;
        if (version != SupportedVersion)
            throw new OnnxExportException(modelFolder, $"{Manifest} has format_version {version}, this engine reads {SupportedVersion}");
        string? type = root.TryGetProperty("model_type", out var t) ? t.GetString() : null;
        if (type != modelType) throw new OnnxExportException(modelFolder, $"the export is of a '{type}' model, expected '{modelType}'");
        var graphs = new Dictionary<string, string>();
        foreach (var g in root.GetProperty("graphs").EnumerateObject())
        {
            string path = Path.Combine(directory, g.Value.GetString()!);
            if (!File.Exists(path)) throw new OnnxExportException(modelFolder, $"graph '{g.Name}' ({path}) is missing");
            graphs[g.Name] = path;
        }
        string weights = Path.Combine(modelFolder, "model.safetensors");
        string sha;
        using (var stream = File.OpenRead(weights)) sha = Convert.ToHexStringLower(SHA256.HashData(stream));
        string? recorded = root.TryGetProperty("source_sha256", out var s) ? s.GetString() : null;
        if (!string.Equals(sha, recorded, StringComparison.OrdinalIgnoreCase))
            throw new OnnxExportException(modelFolder, "the export is stale: it was made from other weights than model.safetensors holds now");
        return new OnnxExport(modelFolder, directory, root.Clone(), graphs, sha);
    }
}
