// Package testfiles makes real files of every kind Parley accepts, for tests:
// small, valid enough for type sniffers and decoders, and made on the spot
// so that nothing binary is committed.
package testfiles

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strconv"
	"strings"
)

// File is a generated file with the type a browser would declare for it.
type File struct {
	Name string
	Type string
	Data []byte
}

// All returns one file of each kind in Amazon Connect's default list.
func All() []File {
	return []File{
		{"photo.png", "image/png", PNG(64, 48)},
		{"photo.jpg", "image/jpeg", JPEG(64, 48)},
		{"scan.jpeg", "image/jpeg", JPEG(32, 32)},
		{"camera.jfif", "image/jpeg", JPEG(16, 16)},
		{"invoice.pdf", "application/pdf", PDF("Invoice 42")},
		{"letter.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", OOXML("word")},
		{"sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", OOXML("xl")},
		{"deck.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", OOXML("ppt")},
		{"old.doc", "application/msword", OLE()},
		{"old.xls", "application/vnd.ms-excel", OLE()},
		{"old.ppt", "application/vnd.ms-powerpoint", OLE()},
		{"voice.wav", "audio/wav", WAV(8000)},
		{"orders.csv", "text/csv", []byte("order,amount\n1,9.99\n2,19.50\n")},
		{"notes.txt", "text/plain", []byte("Order 1234 arrived damaged.\nPhotos attached.\n")},
		{"memo.rtf", "application/rtf", []byte(`{\rtf1\ansi\deff0 {\fonttbl {\f0 Times;}} \f0 Hello, RTF.}`)},
		{"clip.mp4", "video/mp4", ISOBMFF("isom", 2000)},
		{"clip.mov", "video/quicktime", ISOBMFF("qt  ", 2000)},
		{"photo.heic", "image/heic", ISOBMFF("heic", 500)},
	}
}

// PNG encodes a w×h gradient.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	png.Encode(&b, gradient(w, h))
	return b.Bytes()
}

// JPEG encodes a w×h gradient.
func JPEG(w, h int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, gradient(w, h), &jpeg.Options{Quality: 80})
	return b.Bytes()
}

func gradient(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / max(w, 1)), uint8(y * 255 / max(h, 1)), 128, 255})
		}
	}
	return img
}

// PNGBomb is a tiny PNG whose header claims w×h pixels: decoding it would
// allocate w×h×4 bytes.
func PNGBomb(w, h uint32) []byte {
	b := PNG(1, 1)
	// IHDR data starts after the 8-byte signature and the chunk's length and type.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// APNGBomb is PNGBomb made an animated PNG (an acTL chunk before the image
// data), which type sniffers name image/apng rather than image/png.
func APNGBomb(w, h uint32) []byte {
	b := PNGBomb(w, h)
	actl := make([]byte, 20)
	binary.BigEndian.PutUint32(actl, 8)
	copy(actl[4:], "acTL")
	binary.BigEndian.PutUint32(actl[8:], 1) // one frame, played forever
	binary.BigEndian.PutUint32(actl[16:], crc32.ChecksumIEEE(actl[4:16]))
	// After the signature (8 bytes) and IHDR (25).
	return append(append(append([]byte{}, b[:33]...), actl...), b[33:]...)
}

// PDF is a minimal one-page PDF showing text.
func PDF(text string) []byte {
	stream := "BT /F1 24 Tf 72 720 Td (" + text + ") Tj ET"
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		"<< /Length " + itoa(len(stream)) + " >>\nstream\n" + stream + "\nendstream",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		b.WriteString(itoa(i+1) + " 0 obj\n" + o + "\nendobj\n")
	}
	xref := b.Len()
	b.WriteString("xref\n0 " + itoa(len(objs)+1) + "\n0000000000 65535 f \n")
	for _, off := range offsets {
		s := itoa(off)
		b.WriteString(strings.Repeat("0", 10-len(s)) + s + " 00000 n \n")
	}
	b.WriteString("trailer\n<< /Size " + itoa(len(objs)+1) + " /Root 1 0 R >>\nstartxref\n" + itoa(xref) + "\n%%EOF\n")
	return b.Bytes()
}

func itoa(n int) string { return strconv.Itoa(n) }

// OOXML is an Office Open XML package (docx, xlsx or pptx by its main folder).
func OOXML(folder string) []byte {
	main := map[string]string{"word": "word/document.xml", "xl": "xl/workbook.xml", "ppt": "ppt/presentation.xml"}[folder]
	return Zip(map[string][]byte{
		"[Content_Types].xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"></Types>`),
		main:                  []byte(`<?xml version="1.0" encoding="UTF-8"?><document/>`),
	}, "[Content_Types].xml", main)
}

// Zip packs files in the given order.
func Zip(files map[string][]byte, order ...string) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, name := range order {
		w, _ := z.Create(name)
		w.Write(files[name])
	}
	z.Close()
	return b.Bytes()
}

// OLE is the header of a Compound File (the pre-2007 Office formats).
func OLE() []byte {
	b := make([]byte, 1536)
	copy(b, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	return b
}

// MSI is a Compound File (as OLE) whose root storage has the Windows
// Installer class id: an installer package.
func MSI() []byte {
	return compoundFile([]byte{0x84, 0x10, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46})
}

// XLSOLE is a Compound File whose root storage has Excel's class id
// (Excel.Sheet.8).
func XLSOLE() []byte {
	return compoundFile([]byte{0x20, 0x08, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46})
}

// compoundFile is a minimal version-3 Compound File: its header, one FAT
// sector and one directory sector holding the root storage of class clsid.
func compoundFile(clsid []byte) []byte {
	const sector = 512
	b := make([]byte, 3*sector)
	le := binary.LittleEndian
	copy(b, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	le.PutUint16(b[24:], 0x3E)   // minor version
	le.PutUint16(b[26:], 3)      // major version: 512-byte sectors
	le.PutUint16(b[28:], 0xFFFE) // byte order
	le.PutUint16(b[30:], 9)      // sector shift
	le.PutUint16(b[32:], 6)      // mini sector shift
	le.PutUint32(b[44:], 1)      // FAT sectors
	le.PutUint32(b[48:], 1)      // first directory sector
	le.PutUint32(b[56:], 4096)   // mini stream cutoff
	le.PutUint32(b[60:], 0xFFFFFFFE)
	le.PutUint32(b[68:], 0xFFFFFFFE)
	for i := 76; i < sector; i += 4 { // DIFAT: the FAT is sector 0
		le.PutUint32(b[i:], 0xFFFFFFFF)
	}
	le.PutUint32(b[76:], 0)
	fat := b[sector : 2*sector]
	for i := 0; i < sector; i += 4 {
		le.PutUint32(fat[i:], 0xFFFFFFFF)
	}
	le.PutUint32(fat[0:], 0xFFFFFFFD) // sector 0: the FAT
	le.PutUint32(fat[4:], 0xFFFFFFFE) // sector 1: the directory, one sector
	dir := b[2*sector:]
	for i, r := range "Root Entry" {
		le.PutUint16(dir[2*i:], uint16(r))
	}
	le.PutUint16(dir[64:], 22)
	dir[66], dir[67] = 5, 1 // root storage, black
	for _, off := range []int{68, 72, 76} {
		le.PutUint32(dir[off:], 0xFFFFFFFF) // no siblings, no children
	}
	copy(dir[80:], clsid)
	le.PutUint32(dir[116:], 0xFFFFFFFE)
	return b
}

// WAV is n samples of 8-bit mono silence.
func WAV(n int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(8000), uint16(1), uint16(8)} {
		binary.Write(&b, le, v)
	}
	b.WriteString("data")
	binary.Write(&b, le, uint32(n))
	b.Write(bytes.Repeat([]byte{128}, n))
	return b.Bytes()
}

// ISOBMFF is an ISO base media file (mp4, mov, heic) with the given brand
// and n bytes of media data.
func ISOBMFF(brand string, n int) []byte {
	var b bytes.Buffer
	ftyp := append([]byte(brand), 0, 0, 2, 0)
	ftyp = append(ftyp, []byte(brand+"mp41")...)
	binary.Write(&b, binary.BigEndian, uint32(8+len(ftyp)))
	b.WriteString("ftyp")
	b.Write(ftyp)
	binary.Write(&b, binary.BigEndian, uint32(8+n))
	b.WriteString("mdat")
	b.Write(make([]byte, n))
	return b.Bytes()
}

// EICAR is the antivirus test file every scanner detects.
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

// ELF is the start of a Linux executable.
func ELF() []byte {
	b := make([]byte, 4096)
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	binary.LittleEndian.PutUint16(b[16:], 2)  // ET_EXEC
	binary.LittleEndian.PutUint16(b[18:], 62) // x86-64
	return b
}
