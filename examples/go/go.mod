module hookhub.example/examples

go 1.19
