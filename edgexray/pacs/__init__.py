"""DICOM results and the DICOM node (the `[pacs]` extra): a decision as a TID 1500 Structured
Report and a heatmap Secondary Capture (results), a C-STORE SCP that classifies what it receives
(node), and the durable outbox that sends the results to a PACS (outbox).

Importing this package imports neither highdicom nor pynetdicom: each module imports them inside
the code that needs them, so the device install never pays for them.
"""
