// Pages typeset no LaTeX. Voilà's front end sets TeX in dollar signs as mathematics wherever
// widgets and outputs show text: "Rent is $300 and food $120" in a label came out as the
// formula "300 and food" in italics. A person's words must read as they were typed, and no
// workbook has a formula. The page config (templates/cop/index.html.j2) names this file as
// the MathJax 2 script, so Voilà's typesetter loads it instead of its bundled MathJax 3
// (16 chunks, about 0.9 MB of script that every page fetched, parsed and ran): every call to
// typeset text here does nothing, and the text stays as written.
window.MathJax = {
  Hub: {
    Config: function () {},
    Configured: function () {},
    Queue: function () {},
    Register: { StartupHook: function () {} },
  },
  Ajax: {},
  InputJax: { TeX: { resetEquationNumbers: function () {} } },
};
