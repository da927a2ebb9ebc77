using System.Buffers;
using System.Text.Unicode;
using Google.Protobuf.Reflection;

namespace GanInference.Server.Limits;

/// <summary>
/// Checks that bytes are a well-formed protobuf encoding of a message type by walking the wire format: tags,
/// varints and lengths are read, nested messages of known fields are walked, and every other field is skipped.
/// Nothing is materialised (strings are only checked to be UTF-8, bytes fields are skipped), so checking a 16 MB upload costs a scan,
/// not a second parse.
/// </summary>
internal static class ProtobufWireCheck
{
    // Google.Protobuf's default recursion limit.
    private const int MaxDepth = 100;

    /// <summary>Null when <paramref name="message"/> is well formed, else what is wrong with it.</summary>
    public static string? Describe(ReadOnlySequence<byte> message, MessageDescriptor descriptor)
    {
        var reader = new SequenceReader<byte>(message);
        return CheckMessage(ref reader, message.Length, descriptor, depth: 0);
    }

    private static string? CheckMessage(ref SequenceReader<byte> reader, long end, MessageDescriptor? descriptor, int depth)
    {
        if (depth > MaxDepth)
        {
            return $"messages nested deeper than {MaxDepth} levels";
        }

        while (reader.Consumed < end)
        {
            if (!TryReadVarint(ref reader, end, out var tag))
            {
                return $"a field tag at byte {reader.Consumed} is truncated or longer than 10 bytes";
            }

            var number = tag >> 3;
            if (number is 0 or > 536_870_911)
            {
                return $"invalid field number {number} at byte {reader.Consumed}";
            }

            var problem = (int)(tag & 7) switch
            {
                0 => TryReadVarint(ref reader, end, out _) ? null : $"field {number}: a varint is truncated or longer than 10 bytes",
                1 => Skip(ref reader, end, 8) ? null : $"field {number}: a fixed64 runs past the end of the message",
                5 => Skip(ref reader, end, 4) ? null : $"field {number}: a fixed32 runs past the end of the message",
                2 => CheckLengthDelimited(ref reader, end, descriptor?.FindFieldByNumber((int)number), number, depth),
                3 or 4 => $"field {number}: groups (wire types 3 and 4) are not part of this API",
                var wireType => $"field {number}: invalid wire type {wireType}",
            };
            if (problem is not null)
            {
                return problem;
            }
        }

        return reader.Consumed == end ? null : "a field runs past the end of its enclosing message";
    }

    private static string? CheckLengthDelimited(ref SequenceReader<byte> reader, long end, FieldDescriptor? field, ulong number, int depth)
    {
        if (!TryReadVarint(ref reader, end, out var length))
        {
            return $"field {number}: a length is truncated or longer than 10 bytes";
        }

        if (length > (ulong)(end - reader.Consumed))
        {
            return $"field {number}: a length of {length} bytes runs past the end of the message ({end - reader.Consumed} bytes left)";
        }

        var fieldEnd = reader.Consumed + (long)length;
        switch (field)
        {
            case { FieldType: FieldType.Message }:
                return CheckMessage(ref reader, fieldEnd, field.MessageType, depth + 1);
            case { FieldType: FieldType.String }:
                // Google.Protobuf refuses a string that is not UTF-8, so this check must too.
                var valid = IsUtf8(reader.UnreadSequence.Slice(0, (long)length));
                reader.Advance((long)length);
                return valid ? null : $"field {number} ({field.Name}): not valid UTF-8";
            case { IsRepeated: true } when PackedWidth(field.FieldType) is var width and not 0:
                // A packed repeated scalar: whole fixed-width values, or varints that end inside the field.
                if (width > 0)
                {
                    reader.Advance((long)length);
                    return (long)length % width == 0 ? null : $"field {number} ({field.Name}): {length} bytes is not a whole number of {width}-byte values";
                }

                while (reader.Consumed < fieldEnd)
                {
                    if (!TryReadVarint(ref reader, fieldEnd, out _))
                    {
                        return $"field {number} ({field.Name}): a packed varint runs past the end of the field";
                    }
                }

                return null;
            default:
                reader.Advance((long)length);
                return null;
        }
    }

    /// <summary>Bytes per value of a packed scalar type: 4 or 8 for fixed widths, -1 for varints, 0 when not packable.</summary>
    private static int PackedWidth(FieldType type) => type switch
    {
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => 4,
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => 8,
        FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 or FieldType.SInt32 or FieldType.SInt64 or FieldType.Bool or FieldType.Enum => -1,
        _ => 0,
    };

    private static bool IsUtf8(ReadOnlySequence<byte> text)
    {
        if (text.IsSingleSegment)
        {
            return Utf8.IsValid(text.FirstSpan);
        }

        var copy = ArrayPool<byte>.Shared.Rent((int)text.Length);
        try
        {
            text.CopyTo(copy);
            return Utf8.IsValid(copy.AsSpan(0, (int)text.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private static bool Skip(ref SequenceReader<byte> reader, long end, int count)
    {
        if (end - reader.Consumed < count)
        {
            return false;
        }

        reader.Advance(count);
        return true;
    }

    private static bool TryReadVarint(ref SequenceReader<byte> reader, long end, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70 && reader.Consumed < end; shift += 7)
        {
            reader.TryRead(out var b);
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }
}
