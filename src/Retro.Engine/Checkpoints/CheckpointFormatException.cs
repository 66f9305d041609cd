namespace Retro.Engine.Checkpoints;

/// <summary>
/// A checkpoint (safetensors file, config.json or model folder) that cannot be used: names the file, the tensor or
/// key when one is at fault, and the script that regenerates the file.
/// </summary>
public sealed class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception; the message is composed from the parts.</summary>
    public CheckpointFormatException(string path, string? tensor, string problem, Exception? inner = null)
        : base(Compose(path, tensor, problem), inner)
    {
        Path = path;
        Tensor = tensor;
        Problem = problem;
    }

    /// <summary>The file (or folder) at fault.</summary>
    public string Path { get; }

    /// <summary>The tensor or config key at fault, when one is.</summary>
    public string? Tensor { get; }

    /// <summary>What is wrong, without the file name and hint.</summary>
    public string Problem { get; }

    /// <summary>The command that rebuilds a file at <paramref name="path"/>: fixtures.py under tests/fixtures, export.py otherwise.</summary>
    public static string RegenerateHint(string path)
    {
        string normalized = path.Replace('\\', '/');
        return normalized.Contains("/fixtures/", StringComparison.Ordinal) || normalized.StartsWith("fixtures/", StringComparison.Ordinal)
            ? "regenerate it with: /usr/bin/python3 src/training/fixtures.py"
            : "regenerate it with: /usr/bin/python3 src/training/export.py (or re-download the third-party checkpoint)";
    }

    private static string Compose(string path, string? tensor, string problem) =>
        tensor is null
            ? $"{path}: {problem}; {RegenerateHint(path)}"
            : $"{path}: tensor '{tensor}': {problem}; {RegenerateHint(path)}";
}
