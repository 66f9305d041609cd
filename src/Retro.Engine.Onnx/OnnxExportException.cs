namespace Retro.Engine.Onnx;

/// <summary>
/// A model folder's ONNX export that cannot be used (missing, stale, or for another model or mode): names the
/// folder and the command that writes the export.
/// </summary>
public sealed class OnnxExportException : Exception
{
    /// <summary>Creates the exception for <paramref name="modelFolder"/>; the message adds the export command.</summary>
    public OnnxExportException(string modelFolder, string problem, Exception? inner = null)
        : base($"{modelFolder}: {problem}; export it with: /usr/bin/python3 src/training/export_onnx.py {modelFolder}", inner)
    {
        ModelFolder = modelFolder;
        Problem = problem;
    }

    /// <summary>The model folder whose export is at fault.</summary>
    public string ModelFolder { get; }

    /// <summary>What is wrong, without the folder and the hint.</summary>
    public string Problem { get; }
}
